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
