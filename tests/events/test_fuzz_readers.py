"""Fuzz the readers: random bytes and mutated valid files of every readable format, and mutated
checkpoints. Every read either succeeds or raises a :class:`SnnStudioError` — no other exception,
no allocation beyond a bound (``RLIMIT_AS`` in a worker process), no case over its time limit.

Seeded and fast: the cases run in two worker processes (this file run as a script); the test
asserts on the failures they report.
"""

from __future__ import annotations

import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
import time
import traceback
import warnings
from pathlib import Path

SEED = 20240611
CASE_SECONDS = 5
#: address space a worker may grow by beyond what its imports took (every valid input here is < 100 KB)
HEADROOM = 768 << 20


class _Timeout(BaseException):
    pass


_CASES = [0]


def _vm_size() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _bound_memory() -> None:
    limit = _vm_size() + HEADROOM
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))


def _run_case(name: str, fn, failures: list[str]) -> None:
    from snnstudio.errors import SnnStudioError

    def alarm(*_):
        raise _Timeout

    _CASES[0] += 1
    signal.signal(signal.SIGALRM, alarm)
    signal.alarm(CASE_SECONDS)
    t = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn()
    except SnnStudioError as exc:
        msg = str(exc)
        if "\n" in msg or "not enough memory" in msg or "MemoryError" in msg:
            failures.append(f"{name}: {type(exc).__name__} {msg[:300]!r}")
    except _Timeout:
        failures.append(f"{name}: over {CASE_SECONDS} s")
    except MemoryError:
        failures.append(f"{name}: MemoryError (allocated beyond the bound)")
    except Exception as exc:  # noqa: BLE001 - the point: nothing else may escape
        tb = traceback.format_exc().strip().splitlines()[-3:]
        failures.append(f"{name}: {type(exc).__name__}: {str(exc)[:200]} | {' / '.join(tb)}")
    finally:
        signal.alarm(0)
    if time.perf_counter() - t > CASE_SECONDS:
        failures.append(f"{name}: took {time.perf_counter() - t:.1f} s")


# ------------------------------------------------------------------------------------ mutations
def _mutations(data: bytes, rng: random.Random, n: int) -> list[tuple[str, bytes]]:
    out = []
    head_len = min(len(data), 2048)
    for i in range(n):
        kind = i % 6
        b = bytearray(data)
        if kind == 0:  # truncate
            cut = rng.randrange(0, len(b))
            out.append((f"truncate@{cut}", bytes(b[:cut])))
        elif kind == 1:  # flip bytes anywhere
            for _ in range(rng.randint(1, 8)):
                k = rng.randrange(len(b))
                b[k] ^= 1 << rng.randrange(8)
            out.append(("flip", bytes(b)))
        elif kind == 2:  # flip bytes in the header
            for _ in range(rng.randint(1, 4)):
                k = rng.randrange(head_len)
                b[k] = rng.randrange(256)
            out.append(("flip-head", bytes(b)))
        elif kind == 3:  # a binary size field made huge
            k = rng.randrange(0, max(head_len - 8, 1))
            val = rng.choice([0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 1 << 40, 0xFFFFFFFFFFFFFFFF])
            b[k : k + 8] = val.to_bytes(8, "little")
            out.append((f"huge@{k}", bytes(b)))
        elif kind == 4:  # a number in the text header made huge
            text = bytes(b[:head_len])
            nums = list(re.finditer(rb"\d+", text))
            if nums:
                m = rng.choice(nums)
                big = rng.choice([b"4294967295", b"65535", b"99999999999999999999", b"0", b"-1"])
                b[m.start() : m.end()] = big
            out.append(("enlarge-number", bytes(b)))
        else:  # the head kept, the rest random
            keep = rng.randrange(0, head_len + 1)
            out.append((f"random-after@{keep}", bytes(b[:keep]) + rng.randbytes(rng.randrange(0, 4096))))
    return out


def _event_worker(folder: Path) -> list[str]:
    import numpy as np

    from snnstudio.events.io import FORMATS, iter_event_chunks, read_events, write_events
    from snnstudio.events.io.nmnist import encode
    from snnstudio.events.types import EventRecording, make_events

    rng = random.Random(SEED)
    nrng = np.random.default_rng(SEED)
    n = 300
    t = np.sort(nrng.integers(1000, 200_000, n))
    ev = make_events(t, nrng.integers(0, 128, n), nrng.integers(0, 128, n), nrng.integers(0, 2, n))
    rec = EventRecording(ev, (128, 128), sensor="FUZZ")
    valid: dict[str, tuple[str, bytes]] = {}
    for name, fmt in FORMATS.items():
        if fmt.writer is None:
            continue
        ext = fmt.extensions[0] if fmt.extensions else ".raw"
        p = folder / f"valid_{name}{ext}"
        write_events(p, rec, format=name)
        valid[name] = (ext, p.read_bytes())
    small = make_events(t[:50], nrng.integers(0, 34, 50), nrng.integers(0, 34, 50), nrng.integers(0, 2, 50))
    valid["nmnist"] = (".bin", encode(small))
    _bound_memory()
    failures: list[str] = []
    k = 0
    for name, (ext, data) in sorted(valid.items()):
        cases = _mutations(data, rng, 24) + [("random", rng.randbytes(rng.randrange(1, 3000)))]
        for label, blob in cases:
            k += 1
            p = folder / f"case{k}{ext}"
            p.write_bytes(blob)
            _run_case(f"{name}/{label} (detected)", lambda p=p: read_events(p), failures)
            _run_case(f"{name}/{label} (as {name})", lambda p=p, f=name: read_events(p, format=f), failures)
            _run_case(f"{name}/{label} (stream)", lambda p=p: list(iter_event_chunks(p, chunk_events=64)), failures)
            p.unlink()
    return failures


def _checkpoint_worker(folder: Path) -> list[str]:
    import torch  # noqa: F401 - imported before the memory bound

    from snnstudio.snn.checkpoints import load_checkpoint, save_checkpoint
    from snnstudio.snn.zoo import build_model, default_config

    cfg = default_config("ma_snn_gesture_small", T=2, widths=(2, 4, 4, 8), input_size=(2, 16, 16))
    json_path = save_checkpoint(folder / "c", build_model(cfg), cfg)
    st_path = json_path.with_suffix(".safetensors")
    doc = json.loads(json_path.read_text())
    weights = st_path.read_bytes()
    load_checkpoint(json_path)  # warm the imports the loads use before bounding memory
    _bound_memory()
    rng = random.Random(SEED + 1)
    deep = "[" * 100_000 + "]" * 100_000
    values = [None, -1, 0, 1, 2, 10**9, 10**30, 2**63, -(2**63), 1.5, float("inf"), "x", "", [], {}, True,
              [1] * 5, [65_536] * 4, [10**6] * 4, [2, 10**6, 10**6], ["a"] * 3, {"a": 1}]
    failures: list[str] = []
    fields = list(doc["config"])
    for k in range(150):
        d = json.loads(json.dumps(doc))
        for _ in range(rng.randint(1, 3)):
            d["config"][rng.choice(fields)] = rng.choice(values)
        text = json.dumps(d, allow_nan=True)
        if k % 10 == 7:
            text = text[: rng.randrange(len(text))]
        if k % 25 == 11:
            text = text.replace('"meta": {', f'"meta": {{"deep": {deep}, ', 1)
        json_path.write_text(text)
        st_path.write_bytes(weights)
        _run_case(f"checkpoint json #{k}: {text[:160]}", lambda: load_checkpoint(json_path), failures)
    json_path.write_text(json.dumps(doc))
    for k, (label, blob) in enumerate(_mutations(weights, rng, 36) + [("random", rng.randbytes(2000))]):
        st_path.write_bytes(blob)
        _run_case(f"safetensors #{k} {label}", lambda: load_checkpoint(json_path), failures)
    return failures


def _worker(kind: str, folder: str) -> None:
    fn = {"events": _event_worker, "checkpoints": _checkpoint_worker}[kind]
    t = time.perf_counter()
    failures = fn(Path(folder))
    print(json.dumps({"cases": _CASES[0], "seconds": round(time.perf_counter() - t, 1), "failures": failures}))


# ------------------------------------------------------------------------------------ tests
def _run_worker(kind: str, tmp_path: Path) -> list[str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    out = subprocess.run([sys.executable, __file__, kind, str(tmp_path)], capture_output=True, text=True,
                         timeout=300, env=env, cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, f"worker died ({out.returncode}): {out.stderr[-3000:]}"
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["cases"] >= 150, result  # the cases really ran
    return result["failures"]


def test_fuzzed_event_files_raise_only_project_errors(tmp_path):
    failures = _run_worker("events", tmp_path)
    assert failures == [], f"{len(failures)} failures:\n" + "\n".join(failures[:40])


def test_fuzzed_checkpoints_raise_only_checkpoint_errors(tmp_path):
    failures = _run_worker("checkpoints", tmp_path)
    assert failures == [], f"{len(failures)} failures:\n" + "\n".join(failures[:40])


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    _worker(sys.argv[1], sys.argv[2])
