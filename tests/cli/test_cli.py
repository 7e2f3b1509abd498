import subprocess
import sys

import pytest

import snnstudio
from snnstudio.cli import main
from snnstudio.errors import SnnStudioError


def test_version_is_printed_by_the_installed_entry_point():
    out = subprocess.run([sys.executable, "-m", "snnstudio", "--version"], capture_output=True, text=True)
    assert out.returncode == 0
    assert out.stdout.strip() == f"snnstudio {snnstudio.__version__}"


def test_user_errors_are_one_line_and_exit_1(monkeypatch, capsys):
    import snnstudio.commands.bench as bench

    def boom(args):
        raise SnnStudioError("some.file: wrong magic")

    monkeypatch.setattr(bench, "run", boom)
    assert main(["bench", "--only", "x"]) == 1
    err = capsys.readouterr().err
    assert err == "error: some.file: wrong magic\n"


def test_load_is_refused_by_a_benchmark_that_does_not_take_it(capsys, monkeypatch):
    monkeypatch.setenv("SNNSTUDIO_BENCH_NOEXEC", "1")
    assert main(["bench", "--only", "framing", "--load", "2"]) == 1
    err = capsys.readouterr().err
    assert "framing does not take --load" in err and len(err.strip().splitlines()) == 1


def test_unknown_benchmark_is_a_clear_error(capsys):
    assert main(["bench", "--only", "no_such_bench"]) == 1
    assert "unknown benchmark(s) no_such_bench" in capsys.readouterr().err


def test_unknown_subcommand_is_rejected_by_argparse():
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code == 2


def _recording_runs(monkeypatch):
    """Every benchmark's run replaced by one that records its options (nothing is measured)."""
    import importlib

    from snnstudio.commands.bench import available

    calls = {}
    for name in available():
        mod = importlib.import_module(f"snnstudio.bench.{name}")
        params = __import__("inspect").signature(mod.run).parameters

        def fake(quick=False, _name=name, **kw):
            calls[_name] = kw
            return {}
        fake.__signature__ = __import__("inspect").Signature(list(params.values()))
        monkeypatch.setattr(mod, "run", fake)
    monkeypatch.setenv("SNNSTUDIO_BENCH_NOEXEC", "1")
    return calls


def test_the_soak_runs_only_when_named_and_takes_minutes(monkeypatch, capsys):
    calls = _recording_runs(monkeypatch)
    assert main(["bench", "--json"]) == 0
    assert "soak" not in calls and "stream" in calls and "framing" in calls
    calls.clear()
    assert main(["bench", "--only", "soak", "--minutes", "5", "--json"]) == 0
    assert calls == {"soak": {"minutes": 5.0}}
    assert main(["bench", "--only", "framing", "--minutes", "5"]) == 1
    assert "framing does not take --minutes (soak does)" in capsys.readouterr().err


def test_soak_memory_helpers():
    import os

    import numpy as np

    from snnstudio.bench.soak import _slope_per_min, rss_mb

    mb = rss_mb(os.getpid())
    with open(f"/proc/{os.getpid()}/statm") as f:  # resident pages, another view of the same figure
        pages = int(f.read().split()[1])
    assert mb is not None and abs(mb - pages * os.sysconf("SC_PAGE_SIZE") / 2**20) < 50
    assert rss_mb(2**22 + 12345) is None
    t = np.arange(0, 600, 5.0)
    assert abs(_slope_per_min(t, 300 + 2.5 * t / 60) - 2.5) < 1e-9  # 2.5 MB a minute
    assert _slope_per_min(t[:2], t[:2]) is None
