"""The kinds of live source, declared once: what :func:`~snnstudio.events.sources.parse_source_spec`
accepts, how the engine's session opens and paces each, its default preprocessing, and the spec
syntax shown in the CLI's help and the README (a test keeps both equal to this table).

A leaf module (no imports of the package's other modules), so the CLI builds its help and
:mod:`snnstudio.events.preprocess` reads the mirror defaults without loading any source.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceKind:
    """One kind of source.

    ``name``: the spec's prefix (``webcam`` in ``webcam:1``); ``syntax``: the spec as users write
    it; ``help``: one line; ``live``: the session streams it as it comes (``False``: a recording,
    read whole and played from memory); ``self_paced``: it delivers in real time by itself (a
    device), so nothing paces it and a slow reader drops events; ``frames``: a picture source turned
    into events (crop, resize and mirror apply to its frames, before the emulator); ``mirrored``:
    the preprocessing mirrors it by default (a front-facing camera); ``reads_file``: its argument
    is a file's path (labels come from the file's sidecars, not from the source)."""

    name: str
    syntax: str
    help: str
    live: bool
    self_paced: bool
    frames: bool = False
    mirrored: bool = False
    reads_file: bool = False


#: every kind of source, in the order the help lists them
SOURCE_KIND_TABLE: tuple[SourceKind, ...] = (
    SourceKind("file", "[file:]PATH", "an event recording, played in real time (a bare path too; "
               "file[format=F,sensor=WxH]:PATH says what a headerless file is)",
               live=False, self_paced=False, reads_file=True),
    SourceKind("camera", "camera[:SERIAL]", "a USB DVS camera (dv-processing)", live=True, self_paced=True),
    SourceKind("network", "network:HOST:PORT", "a DV network event stream (TCP)", live=True, self_paced=True),
    SourceKind("webcam", "webcam[:INDEX]", "a webcam turned into events, mirrored by default",
               live=True, self_paced=True, frames=True, mirrored=True),
    SourceKind("video", "video:PATH", "a video file turned into events (a bare path with a video "
               "extension too)", live=True, self_paced=False, frames=True, reads_file=True),
    SourceKind("synthetic", "synthetic[:GESTURE]", "the synthetic gesture generator (labelled)",
               live=True, self_paced=False),
)

SOURCE_KINDS_BY_NAME: dict[str, SourceKind] = {k.name: k for k in SOURCE_KIND_TABLE}
#: the spec kinds :func:`~snnstudio.events.sources.open_source` understands
SOURCE_KINDS: tuple[str, ...] = tuple(SOURCE_KINDS_BY_NAME)
#: kinds the session streams live (the others are recordings, read whole)
LIVE_KINDS: tuple[str, ...] = tuple(k.name for k in SOURCE_KIND_TABLE if k.live)
#: kinds that deliver in real time by themselves (devices); the others are paced by their reader
SELF_PACED_KINDS: tuple[str, ...] = tuple(k.name for k in SOURCE_KIND_TABLE if k.self_paced)
#: picture sources turned into events (preprocessed before the emulator)
FRAME_KINDS: tuple[str, ...] = tuple(k.name for k in SOURCE_KIND_TABLE if k.frames)
#: kinds whose argument is a file's path
FILE_KINDS: tuple[str, ...] = tuple(k.name for k in SOURCE_KIND_TABLE if k.reads_file)
#: kinds mirrored by default
MIRRORED_KINDS: tuple[str, ...] = tuple(k.name for k in SOURCE_KIND_TABLE if k.mirrored)


def source_syntax(sep: str = " | ") -> str:
    """Every kind's spec syntax joined by ``sep`` (e.g. for an argument's help)."""
    return sep.join(k.syntax for k in SOURCE_KIND_TABLE)


def sources_markdown() -> str:
    """The README's table of sources (a test keeps the README equal to it)."""
    rows = ["| source | what | streamed as it comes | paces itself | mirrored by default |", "|---|---|---|---|---|"]
    yes = {True: "yes", False: "no"}
    for k in SOURCE_KIND_TABLE:
        rows.append(f"| `{k.syntax}` | {k.help} | {yes[k.live]} | {yes[k.self_paced]} | {yes[k.mirrored]} |")
    return "\n".join(rows)
