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
