"""Writing output files safely: only regular files, atomically, no temp files left behind.

Every writer of snnstudio (event files, label sidecars, checkpoints, tables, logs) goes through
:func:`atomic_write`: the data goes to a temp file ``.NAME.XXXXXXXX.tmp`` beside the target and is
renamed over it only when complete. On top of the plain temp + rename:

* an output that exists and is not a regular file (a device such as ``/dev/null``, a FIFO, a
  socket, a folder) is refused — renaming over it would replace the device node;
* an output that is a symbolic link is written *through* the link: the temp file goes beside the
  link's target and replaces the target, the link stays;
* :func:`check_output` tells before long work starts (a conversion, an evaluation, a training run)
  whether the output can be written at all (folder exists and is writable, not a special file);
* the temp file is removed on every failure, and on ``SIGTERM``/``SIGHUP`` when the process has no
  handler of its own for them (``SIGINT`` arrives as ``KeyboardInterrupt`` and is covered by the
  failure path); temp files of the same output left by a killed earlier run (our name pattern,
  last modified before this process started, owned by us) are removed when it is written again;
* the file gets the permissions a plain ``open(path, "w")`` would give (``0o666`` less the umask;
  an existing target keeps its own), not ``mkstemp``'s ``0o600``.

No Qt, no torch: used by ``events/``, ``snn/`` and ``train/`` alike.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from snnstudio.errors import SnnStudioError

#: builds the error to raise: ``error(path, problem)``
ErrorFactory = Callable[[Path, str], SnnStudioError]

#: when this process started using this module; temp files older than this are from an earlier run
RUN_STARTED = time.time()
#: mkstemp's random part: 8 characters of ``[a-z0-9_]``
_TEMP_RE = r"[a-z0-9_]{8}"
_live: set[Path] = set()  # temp files being written now (removed on SIGTERM/SIGHUP)
_live_lock = threading.Lock()
_previous_handlers: dict[int, object] = {}
_CAUGHT = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s is not None)


class OutputFileError(SnnStudioError):
    """An output file cannot be written (default error of this module)."""

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def resolve_output(path: str | Path, error: ErrorFactory = OutputFileError) -> Path:
    """The file that writing ``path`` really replaces: ``path`` itself or, for a symbolic link
    (also a chain of them, also one whose target does not exist yet), its final target.

    Raises ``error`` when that file exists and is not a regular file, or the links loop."""
    path = Path(path)
    real = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        st = os.stat(real)
    except FileNotFoundError:
        if real.is_symlink():  # realpath stopped at a link it could not follow (a loop)
            raise error(path, "is a symbolic link that loops; not writing through it") from None
        return real
    except NotADirectoryError:
        raise error(path, f"{_folder(real)} is not a folder") from None
    except OSError as exc:
        raise error(path, f"cannot write here: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        via = f" (via the link to {real})" if real != path else ""
        raise error(path, f"exists and is {_kind(st.st_mode)}{via}; refusing to write over it")
    return real


def file_mode(path: Path) -> int:
    """Mode for a new output: the existing target's own, else ``0o666`` less the umask (as ``open``)."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        pass
    return 0o666 & ~_umask()


def _umask() -> int:
    try:  # reading it without changing it (os.umask() sets it: a race with other threads)
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _folder(real: Path) -> Path:
    return real.parent if str(real.parent) else Path(".")


def check_output(path: str | Path, error: ErrorFactory = OutputFileError) -> Path:
    """Check that ``path`` can be written, before any long work: the folder exists and accepts a
    new file (tried for real: a temp file is made and removed), the target is not a special file.
    Returns the file that will be written (the link target for a symbolic link)."""
    real = resolve_output(path, error)
    folder = _folder(real)
    if not folder.exists():
        raise error(Path(path), f"folder {folder} does not exist")
    if not folder.is_dir():
        raise error(Path(path), f"{folder} is not a folder")
    fd, tmp = _mkstemp(real, Path(path), error)
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(tmp)
    return real


def _mkstemp(real: Path, shown: Path, error: ErrorFactory) -> tuple[int, Path]:
    folder = _folder(real)
    if not folder.is_dir():
        raise error(shown, f"folder {folder} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{real.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise error(shown, f"cannot write in {folder}: {exc.strerror or exc}") from None
    try:
        os.fchmod(fd, file_mode(real))
    except OSError:
        pass
    return fd, Path(tmp)


def clean_stale_temps(target: str | Path, before: float | None = None) -> list[Path]:
    """Remove ``.NAME.XXXXXXXX.tmp`` files beside ``target`` left by a killed earlier run: regular
    files of our name pattern, owned by this user, last modified before ``before`` (default: when
    this process started). Returns the removed paths."""
    target = Path(target)
    folder = _folder(target)
    before = RUN_STARTED if before is None else before
    pattern = re.compile(rf"\.{re.escape(target.name)}\.{_TEMP_RE}\.tmp")
    removed = []
    try:
        names = [n for n in os.listdir(folder) if n.startswith(f".{target.name}.") and n.endswith(".tmp")]
    except OSError:
        return removed
    getuid = getattr(os, "getuid", None)
    for name in names:
        if not pattern.fullmatch(name):
            continue
        p = folder / name
        try:
            st = os.lstat(p)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode) or st.st_mtime >= before:
            continue
        if getuid is not None and st.st_uid != getuid():
            continue
        with contextlib.suppress(OSError):
            p.unlink()
            removed.append(p)
    return removed


def _on_signal(signum, frame) -> None:  # pragma: no cover - exercised in a subprocess by the tests
    with _live_lock:
        for p in list(_live):
            with contextlib.suppress(OSError):
                p.unlink()
        _live.clear()
    previous = _previous_handlers.get(signum, signal.SIG_DFL)
    signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)
    else:
        os.kill(os.getpid(), signum)  # the default action: end the process as the signal would


def _register(tmp: Path) -> None:
    with _live_lock:
        _live.add(tmp)
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in _CAUGHT:
            if sig in _previous_handlers:
                continue
            try:
                current = signal.getsignal(sig)
                if current not in (signal.SIG_DFL, None):
                    continue  # the application handles it (the GUI, a test runner): leave it alone
                signal.signal(sig, _on_signal)
                _previous_handlers[sig] = current
            except (ValueError, OSError):  # not the main interpreter / thread
                pass


def _unregister(tmp: Path) -> None:
    with _live_lock:
        _live.discard(tmp)
        if _live or threading.current_thread() is not threading.main_thread():
            return
        for sig, previous in list(_previous_handlers.items()):
            with contextlib.suppress(ValueError, OSError, TypeError):
                if signal.getsignal(sig) is _on_signal:
                    signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
            del _previous_handlers[sig]


class TempFile:
    """A temp file beside the real target of ``path``, for writers that open the file themselves:
    ``tmp = TempFile(path); ...write tmp.path...; tmp.commit()`` (or ``tmp.discard()``)."""

    def __init__(self, path: str | Path, error: ErrorFactory = OutputFileError):
        self.path_shown = Path(path)
        self.target = resolve_output(path, error)
        self._error = error
        self.mode = file_mode(self.target)
        fd, self.path = _mkstemp(self.target, self.path_shown, error)
        os.close(fd)
        _register(self.path)
        clean_stale_temps(self.target)
        self.done = False

    def commit(self) -> None:
        """Rename the temp file over the target (re-checked: still not a special file)."""
        if self.done:
            return
        try:
            resolve_output(self.target, self._error)
            with contextlib.suppress(OSError):  # writers that re-create the file by name (safetensors)
                os.chmod(self.path, self.mode)  # would leave their own mode
            try:
                os.replace(self.path, self.target)
            except OSError as exc:
                raise self._error(self.path_shown, f"cannot replace the file: {exc.strerror or exc}") from None
        except BaseException:
            self.discard()
            raise
        self.done = True
        _unregister(self.path)

    def discard(self) -> None:
        """Remove the temp file; the target is untouched."""
        if self.done:
            return
        self.done = True
        with contextlib.suppress(OSError):
            self.path.unlink()
        _unregister(self.path)


def write_by_name(path: str | Path, write, error: ErrorFactory = OutputFileError) -> None:
    """For writers that take a file name (safetensors, nir): ``write(tmp_path)`` into a temp file
    beside ``path``'s target, then rename it over; the temp file is removed on any failure."""
    tmp = TempFile(path, error)
    try:
        write(str(tmp.path))
    except OSError as exc:
        tmp.discard()
        raise error(Path(path), f"cannot write: {exc.strerror or exc}") from None
    except BaseException:
        tmp.discard()
        raise
    tmp.commit()


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "wb", *,
                 error: ErrorFactory = OutputFileError, **open_kw) -> Iterator[tuple[Path, object]]:
    """Yield ``(tmp_path, file)`` for a temp file beside ``path`` (its target, for a link); rename it
    over the target on success. On any exception (``KeyboardInterrupt`` included) the temp file is
    removed and the target left untouched. Writers that open the temp file by name close ``file``
    first and write ``tmp_path``."""
    tmp = TempFile(path, error)
    try:
        try:
            f = open(tmp.path, mode, **open_kw)  # noqa: SIM115 - closed below
        except OSError as exc:
            raise error(Path(path), f"cannot write: {exc.strerror or exc}") from None
        with f:
            yield tmp.path, f
        tmp.commit()
    except OSError as exc:  # a full disk, a quota, an I/O error while writing
        tmp.discard()
        raise error(Path(path), f"cannot write: {exc.strerror or exc}") from None
    except BaseException:
        tmp.discard()
        raise
