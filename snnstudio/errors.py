"""Typed errors and warnings shared by every layer.

Every error a user can cause (a broken file, a missing camera, a mismatched checkpoint)
is a :class:`SnnStudioError` whose ``str()`` is one line that names the thing and the
problem. The CLI prints that line and exits 1; the GUI shows it in its message bar.
Recoverable problems (a truncated recording whose good part is still usable) are
:class:`SnnStudioWarning` warnings; the CLI prints them as ``warning: ...`` lines.
"""

from __future__ import annotations

from pathlib import Path


class SnnStudioError(Exception):
    """Base of every user-facing error: its message is one line, no traceback needed."""


class SnnStudioWarning(UserWarning):
    """Something was wrong but usable data remains (e.g. a truncated recording)."""


class EventFileError(SnnStudioError):
    """An event file could not be read or written.

    ``path`` is the file, ``problem`` a short description ("wrong magic", "truncated packet",
    "timestamps go backwards at event 1234", ...).
    """

    def __init__(self, path: str | Path | None, problem: str):
        self.path = Path(path) if path is not None else None
        self.problem = problem
        where = f"{self.path}: " if self.path is not None else ""
        super().__init__(f"{where}{problem}")


class UnknownFormatError(EventFileError):
    """The content (magic/header) and the extension match no known event format."""


class SourceError(SnnStudioError):
    """A live event source failed (camera unplugged, network peer vanished, bad video)."""


class DeviceNotFoundError(SourceError):
    """No camera / webcam / network peer is there to open."""


class ModelError(SnnStudioError):
    """A model cannot be built or does not fit its input (config, input size, neuron name)."""


class CheckpointError(ModelError):
    """A checkpoint does not load: missing file, bad JSON, weights that do not match the config."""
