"""Spikformer V2 (the SCS stem, a reading of the paper): token grid equal to SPS's, strided convs
where SPS pools, the expand/restore 1×1 convs, gradients, and the presets through the zoo and a
checkpoint round trip."""

import pytest
import torch

from snnstudio.errors import ModelError
from snnstudio.snn.checkpoints import load_checkpoint, save_checkpoint
from snnstudio.snn.spikformer import SCS, SPS, Spikformer
from snnstudio.snn.zoo import build_model, default_config


def _spikes(shape, p=0.3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(*shape, generator=g) < p).float()


@pytest.mark.parametrize("side", [16, 32, 64, 128])
def test_scs_gives_the_same_token_grid_as_sps(side):
    sps, scs = SPS(2, 16, (side, side)), SCS(2, 16, (side, side))
    assert scs.num_pools == sps.num_pools and scs.grid == sps.grid
    x = _spikes((2, 1, 2, side, side))
    with torch.no_grad():
        a, b = sps(x), scs(x)
    assert a.shape == b.shape == (2, 1, 16, sps.grid[0] * sps.grid[1])
    assert sps.grid == (8, 8)  # both reach Spikformer's 8×8 tokens from any of these inputs


@pytest.mark.parametrize("side,strides", [(16, [1, 1, 1, 2]), (32, [1, 1, 2, 2]), (128, [2, 2, 2, 2])])
def test_scs_strides_where_sps_pools_and_halves_the_image_there(side, strides):
    scs, sps = SCS(2, 16, (side, side)), SPS(2, 16, (side, side))
    pooled = [not isinstance(p, torch.nn.Identity) for p in sps.pools]
    assert [s == 2 for s in strides] == pooled  # SCS strides exactly at SPS's pooling stages
    assert [stage[0]["conv"].layer.stride for stage in scs.stages] == [(s, s) for s in strides]
    assert all(stage[0]["conv"].layer.kernel_size == (3, 3) for stage in scs.stages)
    sizes = []
    hooks = [stage[2]["lif"].register_forward_hook(lambda m, i, o: sizes.append(o.shape[-1])) for stage in scs.stages]
    with torch.no_grad():
        scs(_spikes((1, 1, 2, side, side)))
    for h in hooks:
        h.remove()
    expect, s = [], side
    for st in strides:
        s //= st
        expect.append(s)
    assert sizes == expect


def test_scs_stem_has_no_max_pool_and_expands_then_restores():
    scs = SCS(2, 32, (32, 32), expand=3)
    assert not any(isinstance(m, (torch.nn.MaxPool2d, torch.nn.AvgPool2d)) for m in scs.modules())
    assert any(isinstance(m, torch.nn.MaxPool2d) for m in SPS(2, 32, (32, 32)).modules())
    for c, (down, up, back) in zip([4, 8, 16, 32], scs.stages):
        assert down["conv"].layer.out_channels == c
        assert up["conv"].layer.kernel_size == (1, 1) and up["conv"].layer.out_channels == 3 * c
        assert back["conv"].layer.kernel_size == (1, 1) and back["conv"].layer.out_channels == c
        for part in (down, up, back):  # each conv is followed by its BN and a spiking neuron
            assert part["bn"].layer.num_features == part["conv"].layer.out_channels
            assert hasattr(part["lif"], "step_mode")
    with pytest.raises(ModelError, match="expand"):
        SCS(2, 32, (32, 32), expand=0)


def test_scs_output_is_the_last_stage_spikes_plus_the_position_branch():
    torch.manual_seed(0)
    scs = SCS(2, 16, (32, 32)).eval()
    out = scs(_spikes((3, 1, 2, 32, 32)))
    last = scs.stages[3][2]["lif"].last_spikes
    rpe = scs.rpe["lif"].last_spikes
    assert torch.equal(out, (last + rpe).flatten(-2))


def test_spikformer_v2_forward_backward_gives_finite_grads_everywhere():
    torch.manual_seed(0)
    m = Spikformer(num_classes=5, input_shape=(2, 32, 32), T=4, dim=32, depth=1, heads=4, tokenizer="scs")
    out = m(_spikes((4, 3, 2, 32, 32)) * 2)
    assert out.shape == (3, 5)
    torch.nn.functional.cross_entropy(out, torch.tensor([0, 1, 2])).backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    stem = m.tokenizer.stages[0][0]["conv"].layer.weight.grad
    assert stem.abs().sum() > 0  # the surrogate gradient reaches the first conv of the stem


def test_presets_build_through_the_zoo_with_the_scs_stem():
    full = build_model(default_config("spikformer_v2", T=1))
    assert isinstance(full.tokenizer, SCS) and full.tokenizer.grid == (8, 8)
    assert len(full.blocks) == 2 and full.blocks[0].attn.heads == 16 and full.blocks[0].attn.scale == 0.25
    small_cfg = default_config("spikformer_v2_small")
    v1_cfg = default_config("spikformer_small")
    assert small_cfg.input_size == (2, 32, 32) and small_cfg.widths == v1_cfg.widths
    assert {**small_cfg.options, "tokenizer": "sps", "expand": None} == {**v1_cfg.options, "expand": None}
    small = build_model(default_config("spikformer_v2_small", T=2))
    assert isinstance(small.tokenizer, SCS) and small.tokenizer.grid == (8, 8) and not small.looks_across_time
    assert small(_spikes((2, 2, 2, 32, 32))).shape == (2, 11)
    cfg = default_config("spikformer_v2_small", T=2, options={**small_cfg.options, "expand": 2})
    assert build_model(cfg).tokenizer.stages[0][1]["conv"].layer.out_channels == 2 * 8


def test_spikformer_v2_round_trips_through_a_checkpoint(tmp_path):
    cfg = default_config("spikformer_v2_small", T=3, input_size=(2, 16, 16))
    torch.manual_seed(0)
    model = build_model(cfg)
    model(_spikes((3, 4, 2, 16, 16), seed=1) * 2)  # train-mode pass: BN running stats move off init
    model.eval()
    with torch.no_grad():  # eval-mode BN starts near identity; a larger gain makes the layers fire
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.weight.fill_(10.0)
    path = save_checkpoint(tmp_path / "v2", model, cfg, {"name": "v2"})
    loaded, cfg2, _ = load_checkpoint(path)
    assert cfg2 == cfg and cfg2.options["tokenizer"] == "scs" and isinstance(loaded.tokenizer, SCS)
    x = _spikes((3, 2, 2, 16, 16), seed=2) * 2
    with torch.no_grad():
        expect = model(x)
        assert torch.equal(loaded(x), expect)
        assert not torch.equal(expect, model(torch.zeros_like(x)))  # the input reaches the read-out
