"""IF / LIF / PLIF / ma_lif / ms_lif: SpikingJelly oracle, hand-worked values, fast == plain, single == multi."""

import pytest
import torch

from snnstudio.errors import ModelError
from snnstudio.snn.neurons import build_neuron



def backward_with(out: torch.Tensor, seed: int = 7) -> None:
    """Backpropagate a fixed random projection of ``out`` (every element's gradient matters)."""
    w = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed), dtype=out.dtype)
    (out * w).sum().backward()


sjn = pytest.importorskip("spikingjelly.activation_based.neuron")
BACKENDS = ["native", "fast", "plain"]

LIF_CASES = [
    dict(decay_input=True, v_reset=0.0, detach_reset=False),
    dict(decay_input=False, v_reset=0.0, detach_reset=False),
    dict(decay_input=True, v_reset=None, detach_reset=False),
    dict(decay_input=False, v_reset=None, detach_reset=True),
    dict(decay_input=True, v_reset=0.0, detach_reset=True),
    dict(decay_input=True, v_reset=-0.2, detach_reset=False),
]


def _x(shape=(12, 3, 40), scale=1.5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=g) * scale + 0.4)


def _run(neuron, x):
    x = x.clone().requires_grad_()
    s = neuron(x)
    backward_with(s)
    return s.detach(), x.grad


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kw", LIF_CASES)
def test_lif_matches_spikingjelly(kw, backend):
    x = _x()
    ours = build_neuron("lif", tau=2.5, backend=backend, **kw)
    theirs = sjn.LIFNode(tau=2.5, step_mode="m", **kw)
    s1, g1 = _run(ours, x)
    s2, g2 = _run(theirs, x)
    assert s1.sum() > 0 and torch.equal(s1, s2)
    assert torch.allclose(g1, g2, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("v_reset,detach", [(0.0, False), (None, False), (0.0, True)])
def test_if_matches_spikingjelly(v_reset, detach, backend):
    x = _x()
    ours = build_neuron("if", v_reset=v_reset, detach_reset=detach, backend=backend)
    theirs = sjn.IFNode(v_reset=v_reset, detach_reset=detach, step_mode="m")
    s1, g1 = _run(ours, x)
    s2, g2 = _run(theirs, x)
    assert torch.equal(s1, s2)
    assert torch.allclose(g1, g2, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kw", LIF_CASES[:4])
def test_plif_matches_spikingjelly_including_w_grad(kw, backend):
    x = _x()
    ours = build_neuron("plif", init_tau=3.0, backend=backend, **kw)
    theirs = sjn.ParametricLIFNode(init_tau=3.0, step_mode="m", **kw)
    with torch.no_grad():
        ours.w.fill_(0.3)
        theirs.w.fill_(0.3)
    s1, g1 = _run(ours, x)
    s2, g2 = _run(theirs, x)
    assert torch.equal(s1, s2)
    assert torch.allclose(g1, g2, atol=1e-5)
    assert torch.allclose(ours.w.grad, theirs.w.grad, atol=1e-5, rtol=1e-5)
    assert abs(ours.tau - 1 / torch.sigmoid(torch.tensor(0.3)).item()) < 1e-6


def test_hand_worked_lif_and_if():
    lif = build_neuron("lif")
    s = lif(torch.full((4, 1), 0.6))
    assert torch.allclose(lif.last_v[:, 0], torch.tensor([0.3, 0.45, 0.525, 0.5625]))
    assert s.sum() == 0
    iff = build_neuron("if")
    s = iff(torch.full((4, 1), 0.5))
    assert s[:, 0].tolist() == [0, 1, 0, 1]  # fires at exactly θ = 1
    assert iff.last_v[:, 0].tolist() == [0.5, 1.0, 0.5, 1.0]
    soft = build_neuron("if", v_reset=None)
    s = soft(torch.full((3, 1), 0.75))  # h: 0.75, 1.5 → fire, v 0.5; 1.25 → fire
    assert s[:, 0].tolist() == [0, 1, 1]
    assert torch.allclose(soft.last_v[:, 0], torch.tensor([0.75, 1.5, 1.25]))


def test_hand_worked_ma_lif():
    n = build_neuron("ma_lif")
    n(torch.full((1, 1), 0.3))
    assert n.last_spikes.item() == 0  # strict: u = θ does not fire
    # input 0.4: u0 = 0.4 fires → h = 0.3·0.3 = 0.09; u1 = 0.49 fires; u2 = 0.49 ...
    s = n(torch.full((3, 1), 0.4))
    assert s[:, 0].tolist() == [1, 1, 1]
    assert torch.allclose(n.last_v[:, 0], torch.tensor([0.4, 0.49, 0.49]))
    # input 0.2: u = 0.2, 0.26, 0.278 (h = 0.3·u), never fires
    s = n(torch.full((3, 1), 0.2))
    assert s.sum() == 0
    assert torch.allclose(n.last_v[:, 0], torch.tensor([0.2, 0.26, 0.278]))


def test_hand_worked_ms_lif():
    n = build_neuron("ms_lif")
    s = n(torch.full((4, 1), 0.5))  # u: 0.5 (no: strict), 0.625 fire → 0, 0.5, 0.625
    assert s[:, 0].tolist() == [0, 1, 0, 1]
    assert torch.allclose(n.last_v[:, 0], torch.tensor([0.5, 0.625, 0.5, 0.625]))
    # equals SpikingJelly-form lif(tau=4/3, decay_input=False, detach_reset=True, θ 0.5, strict)
    x = _x(scale=0.6)
    a = build_neuron("ms_lif")(x)
    b = build_neuron("lif", tau=4 / 3, decay_input=False, detach_reset=True, v_threshold=0.5, strict=True)(x)
    assert torch.equal(a, b)


@pytest.mark.parametrize(
    "name,kw",
    [("if", {}), ("lif", dict(v_reset=None)), ("lif", dict(decay_input=False, strict=True)),
     ("lif", dict(detach_reset=True, v_reset=0.1)), ("plif", {}), ("plif", dict(decay_input=False, v_reset=None)),
     ("ma_lif", {}), ("ms_lif", {}), ("lif", dict(surrogate="atan")), ("lif", dict(surrogate="triangle"))],
)
@pytest.mark.parametrize("backend", ["fast", "native"])
def test_fast_equals_plain(name, kw, backend):
    x = _x((10, 2, 3, 7), seed=3)
    fast = build_neuron(name, backend=backend, **kw)
    plain = build_neuron(name, backend="plain", **kw)
    plain.load_state_dict(fast.state_dict())
    s1, g1 = _run(fast, x)
    s2, g2 = _run(plain, x)
    assert torch.equal(s1, s2)
    assert torch.allclose(fast.last_v, plain.last_v, atol=1e-6)
    assert torch.allclose(g1, g2, atol=1e-6)
    for p1, p2 in zip(fast.parameters(), plain.parameters()):
        assert torch.allclose(p1.grad, p2.grad, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name,kw", [("if", {}), ("lif", {}), ("lif", dict(v_reset=None, decay_input=False)), ("plif", {}), ("ma_lif", {})])
def test_single_step_equals_multi_step(name, kw):
    x = _x((9, 4, 6), seed=5)
    multi = build_neuron(name, **kw)
    single = build_neuron(name, step_mode="s", **kw)
    single.load_state_dict(multi.state_dict())
    xm = x.clone().requires_grad_()
    sm = multi(xm)
    backward_with(sm)
    xs = x.clone().requires_grad_()
    outs, hs = [], []
    for t in range(x.shape[0]):
        outs.append(single(xs[t]))
        hs.append(single.last_v)
    ss = torch.stack(outs)
    backward_with(ss)
    assert torch.equal(sm.detach(), ss.detach())
    assert torch.allclose(multi.last_v, torch.stack(hs), atol=1e-6)
    assert torch.allclose(xm.grad, xs.grad, atol=1e-6)
    single.reset()
    assert single.v is None and single.last_v is None
    assert torch.equal(single(x[0]), sm[0].detach())  # starts afresh after reset


def test_native_kernel_builds_and_is_used():
    from snnstudio.snn.functional import native

    lib = native.build()
    if lib is None:
        pytest.skip("no working C compiler: the eager kernel is used instead")
    assert native.load() is lib
    x = _x((5, 3))
    assert native.supports(x, build_neuron("lif").surrogate)
    assert not native.supports(x.double(), build_neuron("lif").surrogate)
    n = build_neuron("lif")
    s = n(x.requires_grad_())
    assert type(s.grad_fn).__name__ == "_ResetNeuronSeqBackward"


@pytest.mark.parametrize("backend", BACKENDS)
def test_keep_state_gradient_to_initial_state(backend):
    x = _x((6, 2, 3), seed=11)
    n = build_neuron("lif", v_reset=None, backend=backend)
    plain = build_neuron("lif", v_reset=None, backend="plain")
    v0 = torch.randn(2, 3, requires_grad=True)
    from snnstudio.snn.functional.lif import reset_neuron_fast, reset_neuron_plain

    a, b, c = n.coefficients()
    fn = reset_neuron_plain if backend == "plain" else reset_neuron_fast
    kw = {"use_native": backend == "native"} if backend != "plain" else {}
    s1, _, _ = fn(x, a, b, c, n.config, n.surrogate, v0, **kw)
    backward_with(s1)
    g1 = v0.grad.clone()
    v0.grad = None
    s2, _, _ = reset_neuron_plain(x, a, b, c, plain.config, plain.surrogate, v0)
    backward_with(s2)
    assert torch.equal(s1, s2) and torch.allclose(g1, v0.grad, atol=1e-6)


def test_keep_state_chunks_equal_one_pass():
    x = _x((12, 3, 5), seed=9)
    whole = build_neuron("lif", v_reset=None)
    s_whole = whole(x)
    chunked = build_neuron("lif", v_reset=None, keep_state=True)
    s_chunks = torch.cat([chunked(x[:5]), chunked(x[5:])])
    assert torch.equal(s_whole, s_chunks)
    chunked.reset()
    assert torch.equal(chunked(x[:5]), s_whole[:5])


def test_multi_step_is_stateless_by_default():
    n = build_neuron("lif")
    x = _x((6, 4))
    assert torch.equal(n(x), n(x))


def test_bad_parameters_are_model_errors():
    with pytest.raises(ModelError, match="tau"):
        build_neuron("lif", tau=0.5)
    with pytest.raises(ModelError, match="init_tau"):
        build_neuron("plif", init_tau=1.0)
    with pytest.raises(ModelError, match="backend"):
        build_neuron("lif", backend="cuda-magic")
    with pytest.raises(ModelError, match="step_mode"):
        build_neuron("lif", step_mode="x")
    with pytest.raises(ModelError, match="float"):
        build_neuron("lif")(torch.ones(3, 2, dtype=torch.int64))
    with pytest.raises(ModelError, match="T ≥ 1"):
        build_neuron("if")(torch.ones(0, 2))
