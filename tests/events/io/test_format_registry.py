"""The format registry drives what users read: the README's table is generated from it, the
module docstring's table names every format, and the open dialog offers every extension."""

from __future__ import annotations

import re
from pathlib import Path

import snnstudio.events.io as io

REPO = Path(__file__).resolve().parents[3]


def test_the_readme_table_is_the_registrys():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- formats -->\n(.*?)\n<!-- /formats -->", text, re.S)
    assert block, "README.md lost its <!-- formats --> block"
    assert block.group(1) == io.formats_markdown(), "README's formats table differs from the registry: regenerate it"


def test_the_docstring_table_names_every_format():
    rules = [i for i, line in enumerate(io.__doc__.splitlines()) if line.startswith("=========  ")]
    table = io.__doc__.splitlines()[rules[1] + 1 : rules[2]]  # the rows, between the header's rule and the last
    rows = [m.group(1) for m in (re.match(r"(\w+(?:, \w+)?)\s{2,}", line) for line in table) if m]
    named = {n.strip() for row in rows for n in row.split(",")}
    assert named == set(io.FORMATS)


def test_the_table_says_what_each_format_can_do():
    rows = {line.split("|")[1].strip(" `"): [c.strip() for c in line.split("|")[4:7]]
            for line in io.formats_markdown().splitlines()[2:]}
    assert set(rows) == set(io.FORMATS)
    for name, (read, write, stream) in rows.items():
        f = io.FORMATS[name]
        assert (read, write, stream) == ("yes", "yes" if f.writer else "no", "yes" if f.streamer else "no")
    assert set(io.READ_EXTENSIONS) == {e for f in io.FORMATS.values() for e in f.extensions}


def test_detection_reads_the_magic_bytes_the_registry_declares(tmp_path):
    """Every declared magic picks its format whatever the file is called; a prefix several formats
    share (Prophesee's '% ') is settled by the header; detect.py keeps no copy of the bytes."""
    from snnstudio.events.io.detect import detect_format

    shared = {}
    for f in io.FORMATS.values():
        for m in f.magic:
            shared.setdefault(m, []).append(f.name)
    assert shared, "no format declares magic bytes"
    for magic, names in shared.items():
        path = tmp_path / f"file-{len(list(tmp_path.iterdir()))}.xyz"
        if len(names) == 1:
            path.write_bytes(magic + b"\0" * 64)
            assert detect_format(path) == names[0]
        else:
            assert sorted(names) == ["dat", "evt2", "evt3"]
            path.write_bytes(magic + b"evt 3.0\n% end\n" + b"\0" * 64)
            assert detect_format(path) == "evt3"
    source = (Path(io.__file__).parent / "detect.py").read_text()
    for magic in shared:
        if magic != b"% ":  # a two-byte prefix is too common a text to look for
            assert repr(magic) not in source and repr(magic)[2:-1] not in source, magic
