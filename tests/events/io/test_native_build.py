"""snnstudio.native: compile + cache + load of a C library, and its quiet fallback."""

from __future__ import annotations

import ctypes
import logging
import shutil
import warnings

import pytest

from snnstudio.native import NativeLibrary, cache_dir

SRC = "long add3(long a, long b, long c) { return a + b + c; }\n"


def _bind(lib):
    lib.add3.argtypes = [ctypes.c_long] * 3
    lib.add3.restype = ctypes.c_long
    return lib


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SNNSTUDIO_CACHE", str(tmp_path))
    monkeypatch.delenv("CC", raising=False)
    return tmp_path


def test_builds_once_then_loads_from_the_cache(cache, monkeypatch):
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler")
    lib = NativeLibrary("t_add", [(SRC, ["-std=c99"])], bind=_bind)
    assert lib.load() is None  # nothing built yet, and load never compiles
    built = lib.build()
    assert built is not None and built.add3(1, 2, 39) == 42
    assert lib.path().parent == cache_dir() == cache / "native" and lib.path().is_file()
    # a second instance of the same source finds the cached file, even with no compiler at all
    monkeypatch.setenv("CC", str(cache / "no-such-compiler"))
    again = NativeLibrary("t_add", [(SRC, ["-std=c99"])], bind=_bind)
    assert again.load() is not None and again.build().add3(1, 1, 1) == 3
    # a changed source is a different file
    other = NativeLibrary("t_add", [(SRC + "/* v2 */\n", ["-std=c99"])], bind=_bind)
    assert other.path() != lib.path() and other.load() is None


@pytest.mark.parametrize("case", ["no compiler", "compile error"])
def test_failure_gives_none_quietly_once(cache, monkeypatch, caplog, case):
    if case == "no compiler":
        monkeypatch.setenv("CC", str(cache / "no-such-compiler"))
        lib = NativeLibrary("t_missing", [(SRC, [])], bind=_bind)
    else:
        if shutil.which("cc") is None and shutil.which("gcc") is None:
            pytest.skip("no C compiler")
        lib = NativeLibrary("t_broken", [("this is not C;\n", [])], bind=_bind)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning of any kind
        with caplog.at_level(logging.DEBUG, logger="snnstudio.native"):
            assert lib.build() is None
            assert lib.build() is None  # remembered: not retried
    notes = [r for r in caplog.records if r.name == "snnstudio.native"]
    assert len(notes) == 1 and notes[0].levelno == logging.DEBUG and "fallback" in notes[0].getMessage()
    assert not lib.path().exists()
