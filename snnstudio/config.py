"""Building config dataclasses from JSON-like dicts, with one-line errors a user can act on."""

from __future__ import annotations

from dataclasses import fields
from typing import TypeVar

from snnstudio.errors import SnnStudioError

C = TypeVar("C")


def config_from_dict(cls: type[C], d: object, *, what: str, error: type[SnnStudioError]) -> C:
    """``cls(**d)`` for a dataclass ``cls``; a non-dict, unknown fields or bad values raise
    ``error`` naming ``what`` ("model config", "training config") and the known fields."""
    if not isinstance(d, dict):
        raise error(f"a {what} must be a JSON object, got {type(d).__name__}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise error(f"unknown {what} field(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    try:
        return cls(**d)
    except (TypeError, ValueError) as exc:
        raise error(f"bad {what}: {exc}") from None
