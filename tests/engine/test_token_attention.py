"""The runner reads token attention (Spikformer's SSA) through the attention contract: the
snapshot's ``tokens`` [N, N] equals Q·Kᵀ computed by hand from the module's own Q and K spikes."""

import numpy as np
import pytest
import torch

zoo = pytest.importorskip("snnstudio.snn.zoo")

from snnstudio.engine.demo import rotating_bar_recording  # noqa: E402
from snnstudio.engine.runner import ModelRunner  # noqa: E402
from snnstudio.snn.checkpoints import load_checkpoint  # noqa: E402

from engine_helpers import frames_of  # noqa: E402

SPIKFORMER = "resources/models/gesture-spikformer.json"


def _frames(n):
    rec = rotating_bar_recording(duration_us=400_000, rate_hz=2_000_000)
    return frames_of(rec, 40_000, n)


def test_runner_tokens_equal_q_kt_of_the_ssa_spikes():
    model, cfg, _ = load_checkpoint(SPIKFORMER)
    runner = ModelRunner(model, name="spikformer")
    ssa = runner.model.blocks[0].attn
    seen = {}
    hooks = [getattr(ssa, n).register_forward_hook(lambda _m, _i, out, n=n: seen.__setitem__(n, out.detach().clone()))
             for n in ("q_lif", "k_lif")]
    try:
        for f in _frames(6):
            _layers, attention, _readout, _cost = runner.step(f)
    finally:
        for h in hooks:
            h.remove()
    a = next(x for x in attention if x.name == "blocks.0.attn")
    assert a.ta is None and a.ca is None and a.sa is None
    q, k = seen["q_lif"], seen["k_lif"]  # the step(s) the runner ran last: [(T,) B, D, N]
    if q.ndim == 3:
        q, k = q[None], k[None]
    t, b, d, n = q.shape
    heads = ssa.heads
    qh = q[:, 0].reshape(t, heads, d // heads, n).transpose(-1, -2)  # [T, heads, N, dh]
    kh = k[:, 0].reshape(t, heads, d // heads, n).transpose(-1, -2)
    oracle = (qh @ kh.transpose(-1, -2)).mean((0, 1)).numpy()  # mean over T and heads: [N, N]
    assert a.tokens.shape == (n, n) and a.tokens.dtype == np.float32 and not a.tokens.flags.writeable
    assert oracle.max() > 0  # the trained net's Q and K spike together: a non-trivial map
    np.testing.assert_allclose(a.tokens, oracle, rtol=1e-6, atol=1e-6)


def test_models_without_token_attention_have_no_tokens():
    cfg = zoo.default_config("syna_resnet", T=4, widths=(8, 16, 16))
    torch.manual_seed(0)
    runner = ModelRunner(zoo.build_model(cfg), name="syna")
    for f in _frames(5):
        _layers, attention, _readout, _cost = runner.step(f)
    names = [a.name for a in attention]
    assert names == ["layers.1.gate", "layers.1.down_gate", "layers.2.gate", "layers.2.down_gate"]
    assert all(a.tokens is None and a.ta is not None and a.ta.shape == (4,) for a in attention)
    # the TA gate's temporal weights: sigmoid weights in (0, 1)
    assert np.all((attention[0].ta > 0) & (attention[0].ta < 1))


def test_spikeformer_tokens_are_the_same_step_blocks_of_its_softmax_map():
    cfg = zoo.default_config("spikeformer", input_size=(2, 32, 32), widths=(32,), T=4,
                             neuron_params={"v_threshold": 0.1},  # an untrained net that spikes
                             options={"depth": 1, "heads": 4, "ct_layers": 2, "sta_mode": "st", "mlp_ratio": 2})
    torch.manual_seed(0)
    runner = ModelRunner(zoo.build_model(cfg), name="spikeformer")
    assert runner.mode == "window"
    frames = _frames(6)
    runner.step(frames[0])
    seen = {}
    stas = {id(m): m for net in (runner.model, runner._net()[0]) for m in [net.blocks[0].attn]}
    hooks = [getattr(sta, n).register_forward_hook(lambda _m, _i, out, n=n: seen.__setitem__(n, out.detach().clone()))
             for sta in stas.values() for n in ("q_lif", "k_lif")]
    try:
        for f in frames[1:]:
            _layers, attention, _readout, _cost = runner.step(f)
    finally:
        for h in hooks:
            h.remove()
    a = next(x for x in attention if x.name == "blocks.0.attn")
    sta = runner.model.blocks[0].attn
    q, k = seen["q_lif"][:, 0], seen["k_lif"][:, 0]  # [T, D, N] of the window's sample
    t, d, n = q.shape
    h = sta.heads
    qh = q.reshape(t, h, d // h, n).permute(1, 0, 3, 2).reshape(h, t * n, d // h)  # [heads, T·N, dh]
    kh = k.reshape(t, h, d // h, n).permute(1, 0, 3, 2).reshape(h, t * n, d // h)
    full = torch.softmax((qh @ kh.transpose(-1, -2)) * sta.scale, dim=-1).reshape(h, t, n, t, n)
    oracle = torch.stack([full[:, s, :, s, :] for s in range(t)]).mean((0, 1)).numpy()  # same step, mean
    assert float(np.ptp(oracle)) > 1e-3  # Q and K spiked: not the uniform map of silent tokens
    assert a.tokens_measure == "softmax(Q·Kᵀ·s)" and a.tokens.shape == (n, n)
    np.testing.assert_allclose(a.tokens, oracle, rtol=1e-5, atol=1e-6)
