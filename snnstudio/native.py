"""Compile, cache and load a small C library with the system compiler — snnstudio's native kernels.

Used by the LIF neuron kernel (:mod:`snnstudio.snn.functional.native`) and the event-file
decoders (:mod:`snnstudio.events.io._native`). Each library is C source text kept in the package
(no build step at install, no Python headers: plain ``ctypes``). On the first :meth:`build` the
sources are compiled with ``$CC`` / ``cc`` / ``gcc`` (about a second) into the cache folder
(``$SNNSTUDIO_CACHE`` or ``~/.cache/snnstudio``, sub-folder ``native``) under a name keyed by the
hash of the sources, flags and machine, so a changed source builds anew and an unchanged one is
only loaded. Anything failing (no compiler, compile error, unloadable file) gives ``None`` once,
with one debug-level log line, and the caller runs its pure-Python/numpy path instead.

``flag_sets`` lists alternative extra flags, best first (e.g. ``-march=native``, then portable):
:meth:`NativeLibrary.build` tries them in order and :meth:`~NativeLibrary.load` takes the first one
built. A flag set with ``-march=native`` adds the CPU model and feature flags to the cache key, so a
cache shared between machines never hands a library to a CPU that cannot run it. A flag set with
``-fopenmp`` is linked with it too (the caller checks that only torch's own OpenMP runtime got loaded).
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
#: flags of a flag set that the link needs too (``-fopenmp`` links the OpenMP runtime)
LINK_FLAGS = ("-fopenmp",)


def cache_dir() -> Path:
    """Folder of the compiled libraries (``$SNNSTUDIO_CACHE/native`` or ``~/.cache/snnstudio/native``)."""
    root = os.environ.get("SNNSTUDIO_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "snnstudio")
    return Path(root) / "native"


def compiler() -> str | None:
    """The C compiler to use (``$CC``, else ``cc``, else ``gcc``), or ``None``."""
    return os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")


def cpu_signature() -> str:
    """What ``-march=native`` depends on: the CPU model and its feature flags (Linux), else the platform."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            keep = [ln.strip() for ln in f.read().split("\n\n")[0].splitlines()
                    if ln.split(":")[0].strip() in ("vendor_id", "cpu family", "model", "model name", "flags", "Features")]
        if keep:
            return "\n".join(keep)
    except OSError:
        pass
    return platform.processor() + platform.machine()


class NativeLibrary:
    """One C library: ``units`` are ``(source, extra flags)`` pairs compiled separately and linked
    into one shared object; ``libs(cc)`` gives the link libraries; ``bind(lib)`` sets the ctypes
    signatures and returns the library. ``base_flags`` go to every unit; ``flag_sets`` are the
    alternatives tried in order. :meth:`load` never compiles; :meth:`build` does, once."""

    def __init__(self, name: str, units: Sequence[tuple[str, Sequence[str]]],
                 bind: Callable[[ctypes.CDLL], ctypes.CDLL],
                 libs: Callable[[str], list[str]] | Sequence[str] = (), version: str = "",
                 base_flags: Sequence[str] = BASE_FLAGS, flag_sets: Sequence[Sequence[str]] = ((),)):
        self.name = name
        self.units = [(src, tuple(flags)) for src, flags in units]
        self.bind = bind
        self.libs = libs
        self.version = version
        self.base_flags = tuple(base_flags)
        self.flag_sets = tuple(tuple(f) for f in flag_sets)
        self._lock = threading.Lock()
        self._lib: ctypes.CDLL | None = None
        self._failed = False

    def path(self, extra: Sequence[str] | None = None) -> Path:
        """Cache file of the library built with flag set ``extra`` (default: the first, best one)."""
        extra = self.flag_sets[0] if extra is None else tuple(extra)
        flags = " ".join(self.base_flags + tuple(extra))
        text = "\0".join(src + " ".join(uflags) for src, uflags in self.units)
        cpu = cpu_signature() if "-march=native" in extra else ""
        key = hashlib.sha256("\0".join([text, flags, self.version, platform.machine(), cpu]).encode()).hexdigest()[:16]
        return cache_dir() / f"{self.name}_{key}.so"

    def _load_unlocked(self) -> ctypes.CDLL | None:
        if self._lib is None:
            for extra in self.flag_sets:
                if (p := self.path(extra)).is_file():
                    try:
                        self._lib = self.bind(ctypes.CDLL(str(p)))
                        break
                    except (OSError, AttributeError) as exc:
                        log.debug("native %s: cannot load %s (%s)", self.name, p, exc)
        return self._lib

    def load(self) -> ctypes.CDLL | None:
        """The library if it is already built (never compiles)."""
        if self._lib is None and any(self.path(e).is_file() for e in self.flag_sets):
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
        with self._lock:
            if self._load_unlocked() is not None:  # another thread built it meanwhile
                return self._lib
            errors = []
            for extra in self.flag_sets:
                try:
                    self._compile(cc, extra, self.path(extra))
                except (OSError, subprocess.SubprocessError) as exc:
                    detail = getattr(exc, "stderr", b"") or b""
                    detail = detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)
                    errors.append(f"{' '.join(extra) or 'portable flags'}: {exc} {detail[:1000]}")
                    continue
                if self._load_unlocked() is not None:
                    return self._lib
            self._failed = True
            log.debug("native %s: build failed (%s); using the fallback path", self.name, "; ".join(errors))
            return None

    def _compile(self, cc: str, extra: tuple[str, ...], out: Path) -> None:
        out.parent.mkdir(parents=True, exist_ok=True)
        run = dict(check=True, capture_output=True, timeout=120)
        with tempfile.TemporaryDirectory() as tmp:
            objs = []
            for i, (src, flags) in enumerate(self.units):
                c, o = Path(tmp) / f"u{i}.c", f"{tmp}/u{i}.o"
                c.write_text(src)
                subprocess.run([cc, *self.base_flags, *extra, *flags, "-c", str(c), "-o", o], **run)
                objs.append(o)
            libs = self.libs(cc) if callable(self.libs) else list(self.libs)
            libs += [f for f in extra if f in LINK_FLAGS]
            tmp_so = Path(tmp) / out.name
            subprocess.run([cc, "-shared", *objs, "-o", str(tmp_so), *libs], **run)
            shutil.move(str(tmp_so), str(out))  # the name is keyed by the sources, flags and CPU
