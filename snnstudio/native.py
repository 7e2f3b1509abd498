"""Compile, cache and load a small C library with the system compiler — snnstudio's native kernels.

Used by the LIF neuron kernel (:mod:`snnstudio.snn.functional.native`) and the event-file
decoders (:mod:`snnstudio.events.io._native`). Each library is C source text kept in the package
(no build step at install, no Python headers: plain ``ctypes``). On the first :meth:`build` the
sources are compiled with ``$CC`` / ``cc`` / ``gcc`` (about a second) into the cache folder
(``$SNNSTUDIO_CACHE`` or ``~/.cache/snnstudio``, sub-folder ``native``) under a name keyed by the
hash of the sources, flags and machine, so a changed source builds anew and an unchanged one is
only loaded. Anything failing (no compiler, compile error, unloadable file) gives ``None`` once,
with one debug-level log line, and the caller runs its pure-Python/numpy path instead.

No ``-march=native`` (the cache may be shared between machines); no OpenMP (a second OpenMP
runtime beside torch's own made both thread pools spin against each other).
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

#: compiler flags every unit gets
BASE_FLAGS = ("-O3", "-fPIC")


def cache_dir() -> Path:
    """Folder of the compiled libraries (``$SNNSTUDIO_CACHE/native`` or ``~/.cache/snnstudio/native``)."""
    root = os.environ.get("SNNSTUDIO_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "snnstudio")
    return Path(root) / "native"


def compiler() -> str | None:
    """The C compiler to use (``$CC``, else ``cc``, else ``gcc``), or ``None``."""
    return os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")


class NativeLibrary:
    """One C library: ``units`` are ``(source, extra flags)`` pairs compiled separately and linked
    into one shared object; ``libs(cc)`` gives the link libraries; ``bind(lib)`` sets the ctypes
    signatures and returns the library. :meth:`load` never compiles; :meth:`build` does, once."""

    def __init__(self, name: str, units: Sequence[tuple[str, Sequence[str]]],
                 bind: Callable[[ctypes.CDLL], ctypes.CDLL],
                 libs: Callable[[str], list[str]] | Sequence[str] = (), version: str = ""):
        self.name = name
        self.units = [(src, tuple(flags)) for src, flags in units]
        self.bind = bind
        self.libs = libs
        self.version = version
        self._lock = threading.Lock()
        self._lib: ctypes.CDLL | None = None
        self._failed = False

    def path(self) -> Path:
        text = "\0".join(src + " ".join(BASE_FLAGS + flags) for src, flags in self.units)
        key = hashlib.sha256((text + self.version + platform.machine()).encode()).hexdigest()[:16]
        return cache_dir() / f"{self.name}_{key}.so"

    def _load_unlocked(self) -> ctypes.CDLL | None:
        if self._lib is None and (p := self.path()).is_file():
            try:
                self._lib = self.bind(ctypes.CDLL(str(p)))
            except (OSError, AttributeError) as exc:
                log.debug("native %s: cannot load %s (%s)", self.name, p, exc)
                return None
        return self._lib

    def load(self) -> ctypes.CDLL | None:
        """The library if it is already built (never compiles)."""
        if self._lib is None and self.path().is_file():
            with self._lock:
                return self._load_unlocked()
        return self._lib

    def build(self) -> ctypes.CDLL | None:
        """Build (once per source version) and load the library; ``None`` when that fails."""
        lib = self.load()
        if lib is not None or self._failed:
            return lib
        cc = compiler()
        if cc is None:
            self._failed = True
            log.debug("native %s: no C compiler found; using the fallback path", self.name)
            return None
        out = self.path()
        with self._lock:
            if out.is_file():  # another thread built it meanwhile
                return self._load_unlocked()
            try:
                out.parent.mkdir(parents=True, exist_ok=True)
                with tempfile.TemporaryDirectory() as tmp:
                    objs = []
                    for i, (src, flags) in enumerate(self.units):
                        c, o = Path(tmp) / f"u{i}.c", f"{tmp}/u{i}.o"
                        c.write_text(src)
                        subprocess.run([cc, *BASE_FLAGS, *flags, "-c", str(c), "-o", o], check=True,
                                       capture_output=True)
                        objs.append(o)
                    libs = self.libs(cc) if callable(self.libs) else list(self.libs)
                    tmp_so = Path(tmp) / out.name
                    subprocess.run([cc, "-shared", *objs, "-o", str(tmp_so), *libs], check=True, capture_output=True)
                    shutil.move(str(tmp_so), str(out))  # the name is keyed by the source hash
            except (OSError, subprocess.CalledProcessError) as exc:
                self._failed = True
                detail = getattr(exc, "stderr", b"") or b""
                log.debug("native %s: build failed (%s) %s; using the fallback path", self.name, exc,
                          detail.decode(errors="replace")[:2000] if isinstance(detail, bytes) else detail)
                return None
            lib = self._load_unlocked()
            if lib is None:
                self._failed = True
            return lib
