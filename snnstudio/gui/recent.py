"""What the studio remembers between runs (``QSettings``): the recent sources (File → Recent
sources) and the last session — source, model and step — reopened by a plain
``snnstudio gui``. Only text specs are kept (a path, ``video:PATH``, ``synthetic``, ``webcam`` …);
a remembered file that is gone is skipped, never opened half."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

RECENT_SOURCES_KEY = "recent/sources"
LAST_SESSION_KEY = "session/last"
RECENT_MAX = 8


def recent_sources(settings) -> list[str]:
    """The recent source specs, newest first (none without settings or when unreadable)."""
    if settings is None:
        return []
    try:
        items = json.loads(settings.value(RECENT_SOURCES_KEY, "[]"))
    except (TypeError, ValueError):
        return []
    return [s for s in items if isinstance(s, str)][:RECENT_MAX] if isinstance(items, list) else []


def remember_source(settings, spec: str) -> list[str]:
    """Put ``spec`` first in the recent sources (once); returns the list."""
    specs = ([spec] + [s for s in recent_sources(settings) if s != spec])[:RECENT_MAX]
    if settings is not None:
        settings.setValue(RECENT_SOURCES_KEY, json.dumps(specs))
    return specs


def source_file(spec: str) -> Path | None:
    """The file a source spec reads (``PATH``, ``video:PATH``, ``file[…]:PATH``), or ``None`` for a
    source without one (``synthetic``, ``webcam``, ``camera``, ``network:…``, ``demo``)."""
    if spec.startswith("file[") and "]:" in spec:
        return Path(spec.split("]:", 1)[1])
    if spec.startswith("video:"):
        return Path(spec[len("video:"):])
    head = spec.split(":", 1)[0]
    if head in ("synthetic", "webcam", "camera", "network", "demo") or spec in ("synthetic", "webcam", "camera", "demo"):
        return None
    return Path(spec)


def available(spec: str) -> bool:
    """Whether ``spec`` can be opened again (its file, if it has one, is still there)."""
    f = source_file(spec)
    return f is None or f.is_file()


@dataclass
class LastSession:
    """The last session: ``source`` and ``model`` specs (text) and the step (ms)."""

    source: str | None = None
    model: str | None = None
    dt_ms: float | None = None


def last_session(settings) -> LastSession:
    """The remembered session (empty without settings or when unreadable)."""
    if settings is None:
        return LastSession()
    try:
        data = json.loads(settings.value(LAST_SESSION_KEY, "{}"))
        return LastSession(**{k: data[k] for k in ("source", "model", "dt_ms") if k in data})
    except (TypeError, ValueError):
        return LastSession()


def remember_session(settings, session: LastSession) -> None:
    if settings is not None:
        settings.setValue(LAST_SESSION_KEY, json.dumps(asdict(session)))
