"""Neuron throughput: multi-step forward and forward+backward of every registered neuron on
``[T, B, C, H, W] = [16, 8, 64, 32, 32]`` (``--quick``: ``[8, 4, 16, 16, 16]``), side by side with
the equivalent SpikingJelly 2.0 neuron (multi-step, torch backend) and snnTorch neuron (its per-step
``Leaky`` loop) where one exists. Our neurons keep no membrane record here (``record=False``), as the
peers keep none by default; ``ours_recording`` is our LIF with it. Times in ms (best of a few rounds); ``*_ratio`` = peer time /
our time (> 1: we are faster). Measured interleaved in one process, so ratios are what to read.

SpikingJelly's fastest CPU path is its multi-step neuron under ``torch.compile`` (inductor fuses the
loop over time into one C++ kernel): for IF/LIF/PLIF (LIF only with ``--quick``) it runs as the peer
``spikingjelly_compiled``, with ``spikingjelly_compiled_compile_s`` (the first calls, which compile:
tens of seconds on a cold inductor cache, a few with its on-disk cache warm from an earlier run) and,
when compiling fails, ``spikingjelly_compiled_error`` instead of its times. The compiled peer is timed
head to head with ours alone, back to back over :data:`HEAD_TO_HEAD_ROUNDS` rounds: its ``*_ms`` and our
``head_to_head_*_ms`` are the best of each, its ratios the median of the per-round ratios (both sit at
the memory-bandwidth floor in the forward, where one round's noise is as large as the difference).
"""

from __future__ import annotations

import os
import warnings

import torch

from snnstudio.bench import best_time

FULL = (16, 8, 64, 32, 32)
QUICK = (8, 4, 16, 16, 16)


def _params(name: str, T: int) -> dict:
    return {"psn": dict(T=T), "masked_psn": dict(T=T, k=4), "sliding_psn": dict(k=4), "psu": dict(T=T),
            "ipsu": dict(T=T), "rpsu": dict(T=T)}.get(name, {})


def _sj_peer(name: str, T: int):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from spikingjelly.activation_based import neuron as sjn
    except Exception:  # pragma: no cover - peer not installed
        return None
    if name == "if":
        return sjn.IFNode(step_mode="m")
    if name == "lif":
        return sjn.LIFNode(tau=2.0, step_mode="m")
    if name == "plif":
        return sjn.ParametricLIFNode(init_tau=2.0, step_mode="m")
    if name == "psn":
        return sjn.PSN(T=T)
    if name == "masked_psn":
        return sjn.MaskedPSN(k=4, T=T, step_mode="m")
    if name == "sliding_psn":
        return sjn.SlidingPSN(k=4, step_mode="m")
    return None


#: neurons whose SpikingJelly peer also runs under torch.compile (full run; ``--quick``: LIF only)
COMPILED_PEERS = ("if", "lif", "plif")
#: rounds of the head-to-head run of ours and the compiled peer (the other peers: 2, ``--quick`` 5)
HEAD_TO_HEAD_ROUNDS = 20


def _compiled_peer(sj, x: torch.Tensor) -> tuple[object | None, dict]:
    """``(call, info)``: SpikingJelly's module under ``torch.compile`` after its first calls (timed in
    ``info["compile_s"]``; both the training and the no-grad graph compile there), or ``(None,
    {"error": ...})`` when compiling or running it fails (no crash: the bench goes on without it)."""
    import time

    try:
        compiled = torch.compile(sj)
        call = _stateless(compiled)
        xg = x.clone().requires_grad_()
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call(xg).sum().backward()
            with torch.no_grad():
                call(x)
        return call, {"compile_s": round(time.perf_counter() - t0, 2)}
    except Exception as exc:  # noqa: BLE001 - any compiler failure is a result to report, not a crash
        return None, {"error": f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ''}"}


def _snntorch_peer(name: str):
    if name not in ("lif", "plif"):
        return None
    try:
        import snntorch as snn
    except Exception:  # pragma: no cover
        return None
    # SpikingJelly's LIF (tau 2, decay_input) is h = v/2 + x/2; snnTorch's Leaky is mem = β·mem + x:
    # same work per step (β = 0.5, hard reset to zero); PLIF ↔ learnable β.
    cell = snn.Leaky(beta=0.5, threshold=1.0, reset_mechanism="zero", learn_beta=(name == "plif"))

    def run(x):
        mem = cell.init_leaky()
        out = []
        for t in range(x.shape[0]):
            spk, mem = cell(x[t], mem)
            out.append(spk)
        return torch.stack(out)

    return run


def _stateless(m):
    """Call a stateful neuron module as a function of its input (reset after every call)."""

    def call(inp):
        out = m(inp)
        if hasattr(m, "reset"):
            m.reset()
        return out

    return call


def _jobs(fn, x: torch.Tensor):
    def fwd():
        with torch.no_grad():
            fn(x)

    xg = x.clone().requires_grad_()

    def fwd_bwd():
        s = fn(xg)
        s.sum().backward()
        xg.grad = None

    return fwd, fwd_bwd


def _rounds(fns: dict, x: torch.Tensor, rounds: int) -> dict:
    """``{key: ([fwd_ms per round], [fwd_bwd_ms per round])}``: each round times every candidate once
    (best of 2), in turn, so a burst of load on the shared machine hits all candidates alike."""
    jobs = {k: _jobs(f, x) for k, f in fns.items()}
    times = {k: ([], []) for k in fns}
    for _ in range(rounds):
        for k, (fwd, fb) in jobs.items():
            times[k][0].append(best_time(fwd, repeat=2) * 1e3)
            times[k][1].append(best_time(fb, repeat=2) * 1e3)
    return times


def _side_by_side(fns: dict, x: torch.Tensor, rounds: int) -> dict:
    """``{key: (fwd_ms, fwd_bwd_ms)}``: the best round of each candidate (:func:`_rounds`)."""
    return {k: (round(min(f), 2), round(min(fb), 2)) for k, (f, fb) in _rounds(fns, x, rounds).items()}


def _head_to_head(ours, peer, x: torch.Tensor, rounds: int) -> dict:
    """Ours against one peer, back to back in every round: the best times of each and the **median
    over the rounds of the per-round ratio** (peer / ours) for forward and forward+backward — a slow
    stretch of the shared machine hits both sides of one round alike and drops out of the ratio."""
    import statistics

    times = _rounds({"ours": ours, "peer": peer}, x, rounds)
    out = {}
    for i, what in enumerate(("fwd", "fwd_bwd")):
        out[f"ours_{what}_ms"] = round(min(times["ours"][i]), 2)
        out[f"peer_{what}_ms"] = round(min(times["peer"][i]), 2)
        out[f"{what}_ratio"] = round(statistics.median(p / o for p, o in zip(times["peer"][i], times["ours"][i])), 2)
    return out


def run(quick: bool) -> dict:
    from snnstudio.snn.functional import native
    from snnstudio.snn.neurons import NEURONS, build_neuron

    shape = QUICK if quick else FULL
    T = shape[0]
    rounds = 5 if quick else 2
    torch.manual_seed(0)
    x = torch.randn(shape) + 0.3
    lib = native.build()
    result: dict = {"shape": list(shape), "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
                    "native_kernel": lib is not None, "neurons": {}}
    for name in sorted(NEURONS):
        # no membrane record, as the peers keep none by default (SpikingJelly's store_v_seq=False):
        # the inference path then writes the spikes only
        n = build_neuron(name, record=False, **_params(name, T))
        fns = {"ours": _stateless(n)}
        compiled_info: dict = {}
        sj = _sj_peer(name, T)
        if sj is not None:
            if hasattr(sj, "weight"):
                sj.load_state_dict(n.state_dict(), strict=False)
            fns["spikingjelly"] = _stateless(sj)
            if name in (("lif",) if quick else COMPILED_PEERS):
                sjc = _sj_peer(name, T)
                sjc.load_state_dict(sj.state_dict())
                call, info = _compiled_peer(sjc, x)
                if call is not None:
                    fns["spikingjelly_compiled"] = call
                compiled_info = {f"spikingjelly_compiled_{k}": v for k, v in info.items()}
        st = _snntorch_peer(name)
        if st is not None:
            fns["snntorch"] = st
        if name == "lif":  # our own LIF kernels too: eager hand-written autograd, plain oracle loop
            fns["ours_eager"] = _stateless(build_neuron("lif", backend="fast", record=False))
            fns["ours_plain"] = _stateless(build_neuron("lif", backend="plain", record=False))
            fns["ours_recording"] = _stateless(build_neuron("lif"))  # with the membrane record a probe reads
        compiled = fns.pop("spikingjelly_compiled", None)
        t = _side_by_side(fns, x, rounds)
        f, fb = t.pop("ours")
        row = {"fwd_ms": f, "fwd_bwd_ms": fb}
        for peer, (pf, pfb) in t.items():
            row.update({f"{peer}_fwd_ms": pf, f"{peer}_fwd_bwd_ms": pfb, f"{peer}_fwd_ratio": round(pf / f, 2),
                        f"{peer}_fwd_bwd_ratio": round(pfb / fb, 2)})
        if compiled is not None:
            # the two fastest head to head, more rounds: at the memory-bandwidth floor both are within
            # the noise of one round, and the slow peers' passes in between would flush the caches
            h2h = _head_to_head(fns["ours"], compiled, x, HEAD_TO_HEAD_ROUNDS)
            row.update({"head_to_head_fwd_ms": h2h["ours_fwd_ms"], "head_to_head_fwd_bwd_ms": h2h["ours_fwd_bwd_ms"],
                        "spikingjelly_compiled_fwd_ms": h2h["peer_fwd_ms"],
                        "spikingjelly_compiled_fwd_bwd_ms": h2h["peer_fwd_bwd_ms"],
                        "spikingjelly_compiled_fwd_ratio": h2h["fwd_ratio"],
                        "spikingjelly_compiled_fwd_bwd_ratio": h2h["fwd_bwd_ratio"]})
        row.update(compiled_info)
        result["neurons"][name] = row
    neurons = result["neurons"]
    lif = neurons["lif"]["fwd_bwd_ms"]
    # PSN family vs LIF in training (> 1: the PSN is faster), against our LIF and SpikingJelly's
    for psn in ("psn", "masked_psn", "sliding_psn"):
        if psn in neurons:
            result[f"{psn}_vs_lif_fwd_bwd_ratio"] = round(lif / neurons[psn]["fwd_bwd_ms"], 2)
            for peer in ("spikingjelly", "spikingjelly_compiled"):
                ref = neurons["lif"].get(f"{peer}_fwd_bwd_ms")
                if ref is not None:
                    result[f"{psn}_vs_{peer}_lif_fwd_bwd_ratio"] = round(ref / neurons[psn]["fwd_bwd_ms"], 2)
    return result
