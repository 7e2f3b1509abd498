"""The C kernels of snnstudio.snn.functional.native against the eager oracles, bit for bit where the
arithmetic is the same (LIF forward, threads, streaming stores) and to float rounding otherwise
(gradients, the PSN's reordered sums); odd sizes that do not divide the chunk, the thread count,
the SIMD width or the 16-byte alignment of the streaming stores; the build's cache key and fallback."""

import pytest
import torch

from snnstudio.snn.functional import native
from snnstudio.snn.functional.lif import ResetConfig, reset_neuron_fast, reset_neuron_plain
from snnstudio.snn.functional.parallel import band_mask, parallel_spike
from snnstudio.snn.neurons import build_neuron
from snnstudio.snn.surrogate import get_surrogate


@pytest.fixture(scope="module")
def lib():
    lib = native.build()
    if lib is None:
        pytest.skip("no working C compiler: the eager kernels run instead")
    return lib


def _x(shape, seed=0, scale=1.5, shift=0.4):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed)) * scale + shift


def _lif(x, gout, use_native, sur="sigmoid", cfg=ResetConfig(), coef=(0.6, 0.4, 0.0)):
    xg = x.clone().requires_grad_()
    s, h, v = reset_neuron_fast(xg, *coef, cfg, get_surrogate(sur, sur), use_native=use_native)
    (s * gout).sum().backward() if gout is not None else s.sum().backward()
    return s.detach(), h.detach(), v, xg.grad


# N = 3·2048 + 37 neurons: not a multiple of the chunk, the SIMD width or 4 (rows start unaligned)
ODD = (5, 3, 2085)


def _runs(monkeypatch, fn):
    """``fn()`` over 1–3 threads, streaming stores on every output or never, and (with more than one
    thread) torch's OpenMP pool or the Python threads."""
    old = torch.get_num_threads()
    monkeypatch.setattr(native, "_MIN_PARALLEL", 0)
    results = []
    try:
        for threads in (1, 2, 3):
            for nt_bytes in (0, 1 << 40):
                for omp in ((True, False) if threads > 1 else (False,)):
                    torch.set_num_threads(threads)
                    monkeypatch.setattr(native, "NT_BYTES", nt_bytes)
                    monkeypatch.setattr(native, "_omp_usable", lambda lib, omp=omp: omp and hasattr(lib, "snn_openmp"))
                    results.append(fn())
    finally:
        torch.set_num_threads(old)
    return results


def test_lif_threads_openmp_and_streaming_stores_change_no_bit(lib, monkeypatch):
    x = _x(ODD, seed=1)
    g = _x(ODD, seed=2)
    results = _runs(monkeypatch, lambda: _lif(x, g, True))
    ref = results[0]
    assert ref[0].sum() > 0
    for r in results[1:]:
        for a, b in zip(ref, r):
            assert torch.equal(a, b)


@pytest.mark.parametrize("cfg", [ResetConfig(), ResetConfig(v_reset=None), ResetConfig(v_reset=-0.3, strict=True),
                                 ResetConfig(detach_reset=True)])
@pytest.mark.parametrize("sur", ["sigmoid", "atan"])
def test_backward_recomputing_h_from_x_equals_the_one_reading_the_saved_h_bit_for_bit(lib, monkeypatch, cfg, sur):
    """Without a membrane record the forward writes no h and the backward recomputes it from x: the
    same spikes, state and every gradient (x, a, b, c, v0) bit for bit, on every thread path."""
    x = _x(ODD, seed=3)
    g = _x(ODD, seed=4)
    v0 = _x(ODD[1:], seed=5, scale=0.3, shift=0.2)

    def run(want_h):
        xg = x.clone().requires_grad_()
        co = [torch.tensor(q, requires_grad=True) for q in (0.6, 0.4, 0.05)]
        v0g = v0.clone().requires_grad_()
        s, h, v = reset_neuron_fast(xg, *co, v0=v0g, cfg=cfg, surrogate=get_surrogate(sur, sur), use_native=True,
                                    want_h=want_h)
        assert (h is None) == (not want_h)
        ((s * g).sum()).backward()
        return [s.detach(), v.detach(), xg.grad, *(c.grad for c in co), v0g.grad]

    with_h = run(True)
    assert with_h[0].sum() > 0 and with_h[2].abs().sum() > 0
    for r in _runs(monkeypatch, lambda: run(False)):
        for a, b in zip(with_h, r):
            assert torch.equal(a, b)


def test_the_openmp_kernels_run_in_torchs_own_runtime(lib):
    """Built with ``-fopenmp`` where torch runs an OpenMP pool, and then no second runtime is loaded
    beside torch's (two pools would spin against each other); a second one turns the pool off."""
    if not native._torch_uses_openmp() or native._openmp_runtimes() is None:
        pytest.skip("torch without an OpenMP pool here, or no /proc/self/maps")
    assert hasattr(lib, "snn_openmp")
    assert len(native._openmp_runtimes()) == 1
    assert native._omp_usable(lib)


def test_a_second_openmp_runtime_sends_the_kernels_to_the_python_threads(lib, monkeypatch):
    class Fake:  # a library with the entry points, checked afresh
        snn_openmp = object()

    fake = Fake()
    monkeypatch.setattr(native, "_omp_checked", {})
    monkeypatch.setattr(native, "_openmp_runtimes", lambda: {"/a/libgomp.so.1", "/b/libiomp5.so"})
    assert not native._omp_usable(fake)
    monkeypatch.setattr(native, "_omp_checked", {})
    monkeypatch.setattr(native, "_openmp_runtimes", lambda: {"/a/libgomp.so.1"})
    assert native._omp_usable(fake)
    monkeypatch.setattr(native, "_omp_checked", {})
    monkeypatch.setattr(native, "_openmp_runtimes", lambda: None)  # cannot tell: not used
    assert not native._omp_usable(fake)


@pytest.mark.parametrize("sur", ["sigmoid", "atan", "triangle", "rectangular", "fastsig"])
@pytest.mark.parametrize("cfg", [ResetConfig(), ResetConfig(v_reset=None), ResetConfig(detach_reset=True, strict=True)])
def test_lif_native_equals_plain_oracle(lib, sur, cfg):
    x = _x(ODD, seed=3)
    g = _x(ODD, seed=4)
    s1, h1, v1, g1 = _lif(x, g, True, sur, cfg)
    xg = x.clone().requires_grad_()
    s2, h2, v2 = reset_neuron_plain(xg, 0.6, 0.4, 0.0, cfg, get_surrogate(sur, sur))
    (s2 * g).sum().backward()
    assert torch.equal(s1, s2) and torch.equal(h1, h2) and torch.equal(v1, v2)
    assert torch.allclose(g1, xg.grad, atol=1e-5, rtol=1e-5)


def test_lif_scalar_output_gradient_is_not_materialised_but_equal(lib):
    """``s.sum().backward()`` hands an expanded scalar: the kernel takes it as one number."""
    x = _x(ODD, seed=5)
    _, _, _, g_scalar = _lif(x, None, True)
    _, _, _, g_full = _lif(x, torch.ones(ODD), True)
    assert torch.equal(g_scalar, g_full)


def test_sigmoid_surrogate_exp_is_accurate_far_from_threshold(lib):
    """The inline exp against float64 over |h − θ| up to 40 (e^(−4·40) underflows to 0)."""
    T, N = 1, 4001
    h = torch.linspace(-40.0, 42.0, N).reshape(T, N)  # a = 0, b = 1: h = x
    xg = h.clone().requires_grad_()
    s, _, _ = reset_neuron_fast(xg, 0.0, 1.0, 0.0, ResetConfig(), get_surrogate("sigmoid", "sigmoid"), use_native=True)
    s.sum().backward()
    z = (h - 1.0).double()
    e = torch.exp(-4.0 * z.abs())  # σ'(4z)·4 = 4e/(1 + e)², no cancellation in 1 − σ
    ref = 4.0 * e / (1.0 + e) ** 2
    assert (xg.grad > 0).sum() > N // 2  # not flushed to 0 where float32 holds the value
    # exp below 2^-126 is flushed to 0, so σ' < 4·2^-126 may be 0: the absolute tolerance
    assert torch.allclose(xg.grad.double(), ref, rtol=2e-6, atol=5e-38)


def test_plif_parameter_gradient_native_equals_plain(lib):
    x = _x(ODD, seed=6)
    fast = build_neuron("plif", backend="native")
    plain = build_neuron("plif", backend="plain")
    for n in (fast, plain):
        xg = x.clone().requires_grad_()
        (n(xg) * _x(ODD, seed=7)).sum().backward()
    assert torch.allclose(fast.w.grad, plain.w.grad, rtol=1e-4, atol=1e-4)


def _psn_both(x, w, bias, sur="atan", strict=False, gw_need=None, gout=None):
    out = []
    for use_native in (True, False):
        xg, wg, bg = (t.clone().requires_grad_() for t in (x, w, bias))
        s, h = parallel_spike(xg, wg, bg, get_surrogate(sur, sur), strict, gw_need if use_native else None, use_native)
        ((s * gout).sum() if gout is not None else s.sum()).backward()
        out.append((s.detach(), h.detach(), xg.grad, wg.grad, bg.grad))
    return out


@pytest.mark.parametrize("T", [1, 2, 5, 7, 16])
@pytest.mark.parametrize("sur", ["atan", "sigmoid", "triangle", "rectangular", "fastsig"])
def test_psn_kernel_equals_eager_oracle(lib, T, sur):
    """Odd T exercise the 2×4 register blocks' remainders; N = 1100 is not a multiple of the chunk (512)."""
    x = _x((T, 4, 275), seed=T)
    w = _x((T, T), seed=10 + T, scale=0.5, shift=0.0)
    bias = torch.full((T, 1), -0.5)
    gout = _x((T, 4, 275), seed=20 + T)
    (s1, h1, gx1, gw1, gb1), (s2, h2, gx2, gw2, gb2) = _psn_both(x, w, bias, sur, gout=gout)
    near0 = h2.abs() < 1e-5  # the sums run in another order than the BLAS: only there may a spike differ
    assert 0 < s2.mean() < 1 and torch.equal(s1[~near0], s2[~near0])
    assert torch.allclose(h1, h2, atol=1e-5)
    # the backward by hand in float64 at the kernel's own H (a steep surrogate such as fastsig, slope
    # 2·100 at 0, turns the ~1e-6 difference in H into ~1e-4 in the gradient, so not at the eager H)
    g = gout.double().reshape(T, -1) * get_surrogate(sur, sur).grad(h1.double()).reshape(T, -1)
    assert torch.allclose(gx1.double().reshape(T, -1), w.double().t() @ g, atol=1e-5, rtol=1e-5)
    assert torch.allclose(gw1.double(), g @ x.double().reshape(T, -1).t(), atol=1e-4, rtol=1e-5)
    assert torch.allclose(gb1.double(), g.sum(1, keepdim=True), atol=1e-4, rtol=1e-5)
    tol = 2e-4 if sur == "fastsig" else 1e-5
    assert torch.allclose(gx1, gx2, atol=tol * gx2.abs().max().item())
    assert torch.allclose(gw1, gw2, atol=1e-3, rtol=2e-3 if sur == "fastsig" else 1e-4)


def test_psn_kernel_strict_threads_and_streaming_stores(lib, monkeypatch):
    T = 6
    x = _x((T, 1037), seed=1)
    x[2, :50] = 0.0  # H = 0 exactly where w[·, 2] is the only weight: strict decides
    w = torch.zeros(T, T)
    w[:, 2] = 1.0
    bias = torch.zeros(T)
    for strict in (False, True):
        runs = _runs(monkeypatch, lambda: _psn_both(x, w, bias, strict=strict)[0])
        s = runs[0][0]
        assert torch.equal(s[:, :50], torch.zeros_like(s[:, :50]) if strict else torch.ones_like(s[:, :50]))
        for r in runs[1:]:
            for a, b in zip(runs[0][:3], r[:3]):
                assert torch.equal(a, b)


def test_psn_weight_gradient_mask_keeps_only_the_band(lib):
    T, k = 7, 3
    x = _x((T, 600), seed=2)
    mask = band_mask(T, k, dtype=torch.bool)
    w = _x((T, T), seed=3, scale=0.5, shift=0.0) * mask
    (_, _, _, gw1, _), (_, _, _, gw2, _) = _psn_both(x, w, torch.tensor(-0.3), gw_need=mask)
    assert torch.all(gw1[~mask] == 0) and (gw2[~mask] != 0).any()
    assert torch.allclose(gw1[mask], gw2[mask], atol=1e-3, rtol=1e-5)


@pytest.mark.parametrize("name,kw", [("psn", dict(T=8)), ("masked_psn", dict(T=8, k=3)), ("sliding_psn", dict(k=3))])
@pytest.mark.parametrize("lam", [0.0, 1.0])
def test_psn_modules_native_equals_plain(lib, name, kw, lam):
    fast = build_neuron(name, **kw)
    plain = build_neuron(name, backend="plain", **kw)
    plain.load_state_dict(fast.state_dict())
    if name == "masked_psn":
        fast.lambda_ = plain.lambda_ = lam
    x = _x((8, 3, 77), seed=4)
    grads = []
    for n in (fast, plain):
        xg = x.clone().requires_grad_()
        s = n(xg)
        (s * _x((8, 3, 77), seed=5)).sum().backward()
        grads.append((s.detach(), xg.grad, n.weight.grad, n.bias.grad))
    assert type(fast(x.requires_grad_()).grad_fn).__name__ == "_ParallelSpikeBackward"
    for a, b in zip(*grads):
        assert torch.allclose(a, b, atol=1e-4, rtol=1e-5)


def test_psn_bad_backend_is_a_model_error():
    from snnstudio.errors import ModelError

    with pytest.raises(ModelError, match="backend"):
        build_neuron("psn", T=4, backend="fast")
    with pytest.raises(ModelError, match="backend"):
        build_neuron("sliding_psn", k=2, backend="gpu")


def test_cache_key_holds_flags_and_cpu(monkeypatch):
    import snnstudio.native as shared

    k = native._KERNEL
    native_path, portable = k.path(("-march=native",)), k.path(())
    assert native_path != portable
    monkeypatch.setattr(shared, "cpu_signature", lambda: "another CPU")
    assert k.path(("-march=native",)) != native_path  # a cached build never runs on another CPU
    assert k.path(()) == portable  # the portable build does not depend on it


def test_build_falls_back_to_portable_flags(monkeypatch, tmp_path):
    from snnstudio.native import NativeLibrary

    monkeypatch.setenv("SNNSTUDIO_CACHE", str(tmp_path))
    k = NativeLibrary("lif_kernel", native._KERNEL.units, bind=native._bind, version=native._KERNEL.version,
                      base_flags=native._KERNEL.base_flags, flag_sets=(("-fno-such-compiler-flag-xyz",), ()))
    monkeypatch.setattr(native, "_KERNEL", k)
    lib = native.build()
    if lib is None:
        pytest.skip("no working C compiler")
    assert k.path(()).is_file() and not k.path(("-fno-such-compiler-flag-xyz",)).is_file()
    x = _x((4, 300))
    s, _, _ = native.forward(lib, x, 0.5, 0.5, 0.0, 0.0, ResetConfig())
    s2, _, _ = reset_neuron_plain(x, 0.5, 0.5, 0.0, ResetConfig(), get_surrogate("sigmoid", "sigmoid"))
    assert torch.equal(s, s2)


def test_bench_compiled_peer_reports_a_compile_failure(monkeypatch):
    from snnstudio.bench import neurons as bench

    def broken(*a, **k):
        raise RuntimeError("no C++ compiler for inductor")

    monkeypatch.setattr(torch, "compile", broken)
    call, info = bench._compiled_peer(torch.nn.Identity(), torch.ones(2, 3))
    assert call is None and info == {"error": "RuntimeError: no C++ compiler for inductor"}


@pytest.mark.parametrize("name,kw", [("lif", {"tau": 1.43, "decay_input": False, "v_threshold": 0.3}),
                                     ("if", {"v_reset": None}), ("plif", {"init_tau": 3.0})])
def test_inference_calls_the_kernel_straight_with_the_training_paths_results(lib, name, kw, monkeypatch):
    """Without autograd (inference) a reset neuron calls the C kernel directly; its spikes, membrane
    records and kept state are those of the autograd paths (native and the plain oracle)."""
    x = _x((7, 2, 300), seed=4, scale=0.8, shift=0.2)
    calls = []
    real = native.forward
    monkeypatch.setattr(native, "forward", lambda *a, **k: calls.append(1) or real(*a, **k))
    for keep in (False, True):
        fast, oracle = build_neuron(name, keep_state=keep, **kw), build_neuron(name, keep_state=keep, backend="plain", **kw)
        for chunk in (x[:4], x[4:]):  # two calls: the second continues from the state when keep_state
            with torch.inference_mode():
                got = fast(chunk)
            want = oracle(chunk.clone().requires_grad_()).detach()
            assert torch.equal(got, want) and got.sum() > 0
            torch.testing.assert_close(fast.last_v, oracle.last_v.detach())
        if keep:
            torch.testing.assert_close(fast.v, oracle.v)
    assert len(calls) == 4  # every inference call went through the kernel, no autograd node
    with torch.no_grad():  # no_grad is inference too
        build_neuron(name, **kw)(x)
    assert len(calls) == 5
    grad = build_neuron(name, **kw)
    xg = x.clone().requires_grad_()
    grad(xg).sum().backward()  # with autograd: the autograd function (gradients flow)
    assert xg.grad is not None and len(calls) == 6


@pytest.mark.parametrize("name,kw", [("lif", {"tau": 1.43, "decay_input": False, "v_threshold": 0.3}),
                                     ("if", {"v_reset": None}), ("plif", {"init_tau": 3.0})])
def test_inference_without_a_membrane_record_writes_spikes_only_with_the_same_results(lib, name, kw, monkeypatch):
    """``record=False`` (no probe reads the membrane): the kernel gets no membrane buffer, and the
    spikes and the kept state are those of the recording neuron, bit for bit."""
    x = _x((6, 3, 500), seed=9, scale=0.8, shift=0.2)
    asked = []
    real = native.forward
    monkeypatch.setattr(native, "forward", lambda *a, **k: asked.append(k.get("want_h", True)) or real(*a, **k))
    quiet = build_neuron(name, keep_state=True, record=False, **kw)
    loud = build_neuron(name, keep_state=True, **kw)
    for chunk in (x[:3], x[3:]):
        with torch.inference_mode():
            a, b = quiet(chunk), loud(chunk)
        assert torch.equal(a, b) and a.sum() > 0
        torch.testing.assert_close(quiet.v, loud.v, rtol=0, atol=0)
    assert asked == [False, True, False, True]
    assert getattr(quiet, "last_v", None) is None and loud.last_v is not None
