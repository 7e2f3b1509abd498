"""Which format is this file? Decided from the content — the magic bytes each format declares in
:data:`~snnstudio.events.io.registry.FORMATS`, header lines, text sniffing — the extension only
breaking ties where the content has no magic (N-MNIST ``.bin``)."""

from __future__ import annotations

from pathlib import Path

from snnstudio.errors import EventFileError, UnknownFormatError
from snnstudio.events.io import labels as _labels
from snnstudio.events.io import text as _text
from snnstudio.events.io.registry import FORMATS

HEAD_BYTES = 1 << 16

#: how to say what a file is, for error messages (the CLI's options, the window's dialog)
NAME_IT = ("name its format and sensor: --format NAME --sensor WxH on the command line "
           "(convert: --in-format), 'Open as…' in the window")


def prophesee_header(head: bytes) -> tuple[dict[str, str], int]:
    """Parse the ``% key value`` header lines; return (fields, byte offset of the data)."""
    fields: dict[str, str] = {}
    pos = 0
    while pos < len(head) and head[pos : pos + 1] == b"%":
        end = head.find(b"\n", pos)
        if end < 0:
            break
        line = head[pos + 1 : end].decode("latin-1").strip()
        pos = end + 1
        if line.lower() == "end":
            break
        key, _, value = line.partition(" ")
        if key:
            fields[key.lower()] = value.strip()
    return fields, pos


def prophesee_kind(fields: dict[str, str], suffix: str) -> str:
    """'evt2', 'evt21', 'evt3' or 'dat' from a Prophesee header (and the extension for old .dat)."""
    fmt = fields.get("format", "").upper()
    evt = fields.get("evt", "")
    if fmt.startswith("EVT3") or evt.startswith("3"):
        return "evt3"
    if fmt.startswith("EVT21") or evt.startswith("2.1"):
        return "evt21"
    if fmt.startswith("EVT2") or evt.startswith("2"):
        return "evt2"
    if "data" in " ".join(fields.values()).lower() or suffix == ".dat" or "version" in fields:
        return "dat"
    if suffix == ".raw":
        return "evt3"
    return "dat"


def detect_format(path: str | Path) -> str:
    """Return the format name of ``path`` (see :data:`snnstudio.events.io.FORMATS`)."""
    path = Path(path)
    if not path.exists():
        raise EventFileError(path, "no such file")
    if path.is_dir():
        raise EventFileError(path, "is a folder, not an event file")
    try:
        with open(path, "rb") as f:
            head = f.read(HEAD_BYTES)
    except OSError as exc:
        raise EventFileError(path, f"cannot read: {exc}") from None
    if not head:
        raise EventFileError(path, "empty file")
    suffix = path.suffix.lower()
    by_magic = [f for f in FORMATS.values() if any(head.startswith(m) for m in f.magic)]
    if len(by_magic) == 1:
        return by_magic[0].name
    if by_magic:  # a shared prefix: Prophesee's '% ' header says which of its formats
        fields, _ = prophesee_header(head)
        return prophesee_kind(fields, suffix)
    if head.startswith(b"#!AER-DAT"):
        version = head[9:12].decode("latin-1", "replace")
        raise UnknownFormatError(path, f"AEDAT version {version} is not supported (2.0, 3.x and 4.0 are)")
    if _labels.looks_like_labels(head):
        return "labels"
    if _text.looks_like_text(head):
        return "csv"
    if suffix == ".bin":
        return "nmnist"
    if suffix == ".raw":
        raise UnknownFormatError(path, f"a Prophesee .raw file without a '%' header (EVT2 or EVT3?): {NAME_IT} "
                                       "(e.g. --format evt2 --sensor 320x320)")
    raise UnknownFormatError(path, f"unknown event file format (starts with {head[:12]!r}); known: "
                                   "AEDAT 2.0/3.1/4, Prophesee EVT2/EVT3 .raw and .dat, N-MNIST .bin, "
                                   f".npz/.npy, HDF5, CSV/TXT; for a headerless file, {NAME_IT}")
