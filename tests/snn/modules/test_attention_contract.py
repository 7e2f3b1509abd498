"""The attention contract of snn/attention.py: the declared parts and layouts are what the modules
keep, and the readers pick the right weights (oracle: indexing ``last_weights`` by hand)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from snnstudio.snn.attention import (
    PART_KEYS,
    PARTS,
    attention_blocks,
    batch_axis,
    build_attention,
    current_weights,
    is_attention,
    layout_dims,
    part_kind,
    sample_weights,
    token_weights,
)

T, B, C, H, W = 4, 3, 8, 5, 6


def _ran_block():
    torch.manual_seed(0)
    att = build_attention("tcsa", T=T, channels=C, t_ratio=2, c_ratio=2)
    att(torch.rand(T, B, C, H, W))
    return att


def test_declared_layouts_are_the_shapes_the_parts_keep():
    att = _ran_block()
    size = {"T": T, "B": B, "C": C, "H": H, "W": W}
    assert PART_KEYS == ("ta", "ca", "sa", "tk")
    for spec in PARTS[:3]:  # MA-SNN's block parts; "tk" (token attention) is a lone module
        part = getattr(att, spec.key)
        assert part.weights_layout == spec.layout
        assert tuple(part.last_weights.shape) == tuple(size[d] for d in layout_dims(spec.layout))
        assert is_attention(part) and part_kind(part) == spec.key
    assert not is_attention(att)  # the block holds parts; it keeps no weights itself


def test_sample_weights_selects_the_batch_item_and_respects_the_switch():
    att = _ran_block()
    np.testing.assert_array_equal(sample_weights(att.ta, 2).numpy(), att.ta.last_weights[:, 2].numpy())
    np.testing.assert_array_equal(sample_weights(att.ca, 1).numpy(), att.ca.last_weights[1].numpy())
    np.testing.assert_array_equal(sample_weights(att.sa, 0).numpy(), att.sa.last_weights[0].numpy())
    # past the batch: the last item (the recorder's long-standing rule)
    np.testing.assert_array_equal(sample_weights(att.ca, 9).numpy(), att.ca.last_weights[B - 1].numpy())
    att.ca.enabled = False
    assert current_weights(att.ca) is None and sample_weights(att.ca) is None
    assert att.ca.last_weights is not None  # only hidden, not cleared


def test_layouts_are_read_leniently_and_a_mismatched_rank_keeps_the_batch():
    assert layout_dims(" t, b ,heads") == ("T", "B", "HEADS") and layout_dims("") == ()
    assert batch_axis("T,B", 2) == 1 and batch_axis("T,B", 1) is None and batch_axis("T", 1) is None

    class Lone(nn.Module):
        enabled, weights_layout = True, "T,B"

        def __init__(self, w):
            super().__init__()
            self.last_weights = w

    numpy_w = np.arange(6, dtype=np.float64).reshape(3, 2)
    got = sample_weights(Lone(numpy_w), 1)
    assert got.dtype == np.float32 and np.array_equal(got, [1.0, 3.0, 5.0])
    np.testing.assert_array_equal(sample_weights(Lone(torch.ones(5)), 0).numpy(), np.ones(5))  # rank 1 ≠ 2


@pytest.mark.parametrize("layout,kind", [("T,B", "ta"), ("B,C", "ca"), ("B,H,W", "sa"),
                                         ("T,B,heads,N,N", "tk"), ("B,heads,TN,TN", "tk"), ("B,heads,N,T,T", "ta"), ("b,h,w", "sa")])
def test_part_kind_from_layout(layout, kind):
    m = nn.Module()
    m.weights_layout = layout
    assert part_kind(m) == kind
    assert part_kind(m, "CA") == "ca"  # a part's name in its block wins


def test_attention_blocks_finds_blocks_then_lone_modules():
    from snnstudio.snn.spikformer import SSA

    net = nn.Sequential(build_attention("tsa", T=T, channels=C), nn.Identity(), SSA(dim=16, heads=2))
    blocks = attention_blocks(net)
    assert [(name, sorted(parts)) for name, _, parts in blocks] == [("0", ["sa", "ta"]), ("2", ["tk"])]
    assert blocks[0][2]["ta"] is net[0].ta and blocks[1][2]["tk"] is net[2]


def test_token_part_is_declared_and_the_spikformer_preset_has_it():
    from snnstudio.snn import zoo

    spec = next(p for p in PARTS if p.key == "tk")
    assert (spec.name, spec.per, spec.layout) == ("token", "token pair", "B,N,N")
    torch.manual_seed(0)
    net = zoo.build_model(zoo.default_config("spikformer_small", input_size=(2, 32, 32), widths=(32,), T=2))
    blocks = attention_blocks(net)
    assert [(name, list(parts)) for name, _, parts in blocks] == [("blocks.0.attn", ["tk"])]
    ssa = blocks[0][2]["tk"]
    assert ssa is net.blocks[0].attn and ssa.weights_layout == "T,B,heads,N,N" and is_attention(ssa)


def _token_module(layout, w, **attrs):
    m = nn.Module()
    m.enabled, m.weights_layout, m.last_weights = True, layout, w
    for k, v in attrs.items():
        setattr(m, k, v)
    return m


def test_token_weights_average_heads_and_steps_of_the_sample():
    torch.manual_seed(0)
    w = torch.randint(0, 5, (3, 2, 4, 6, 6)).float()  # [T, B, heads, N, N]
    m = _token_module("T,B,heads,N,N", w)
    got = token_weights(m, 1)
    oracle = np.mean([[w[t, 1, h].numpy() for h in range(4)] for t in range(3)], axis=(0, 1))
    assert got.shape == (6, 6) and got.dtype == np.float32
    np.testing.assert_allclose(got, oracle, rtol=1e-6)
    # one step (no T axis, [B, heads, N, N]): the mean over heads of that step
    np.testing.assert_allclose(token_weights(_token_module("T,B,heads,N,N", w[2]), 0), w[2, 0].mean(0).numpy(), rtol=1e-6)
    m.enabled = False
    assert token_weights(m) is None
    assert token_weights(_token_module("T,B", torch.ones(3, 2))) is None  # not token attention


def test_token_weights_of_a_spatio_temporal_map_keep_the_same_step_blocks():
    T_, N = 3, 4
    torch.manual_seed(1)
    w = torch.rand(2, 2, T_ * N, T_ * N)  # [B, heads, T·N, T·N]
    got = token_weights(_token_module("B,heads,TN,TN", w, token_count=N), 0)
    oracle = np.mean([w[0, h, t * N:(t + 1) * N, t * N:(t + 1) * N].numpy() for h in range(2) for t in range(T_)], axis=0)
    np.testing.assert_allclose(got, oracle, rtol=1e-6)
    assert token_weights(_token_module("B,heads,TN,TN", w), 0) is None  # N unknown: no guess
