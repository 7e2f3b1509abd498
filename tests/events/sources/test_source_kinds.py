"""The source kinds are declared once (events/sources/kinds.py) and that table drives the spec
parser, the preprocessing defaults, the session's pacing, the CLI's help and the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from snnstudio.cli import build_parser
from snnstudio.events.preprocess import default_preprocess
from snnstudio.events.sources import SourceSpecError, parse_source_spec
from snnstudio.events.sources import kinds as K

REPO = Path(__file__).resolve().parents[3]
#: the commands that take a source spec, and the argument that does
TAKES_A_SOURCE = {"predict": "source", "record": "--source", "gui": "path"}


def _help(command: str) -> str:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return " ".join(sub.choices[command].format_help().split())


def test_the_readme_table_is_the_registrys():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- sources -->\n(.*?)\n<!-- /sources -->", text, re.S)
    assert block, "README.md lost its <!-- sources --> block"
    assert block.group(1) == K.sources_markdown(), "README's sources table differs from the registry: regenerate it"
    rows = [line for line in block.group(1).splitlines()[2:]]
    assert [r.split("`")[1] for r in rows] == [k.syntax for k in K.SOURCE_KIND_TABLE]


def test_the_package_docstring_lists_every_kind():
    import snnstudio.events.sources as sources

    rows = [line.split()[0] for line in sources.__doc__.splitlines() if line.startswith("    ") and line.strip()]
    assert rows == [k.syntax for k in K.SOURCE_KIND_TABLE]


@pytest.mark.parametrize("command", sorted(TAKES_A_SOURCE))
def test_the_cli_help_names_every_kind(command):
    text = _help(command)
    missing = [k.syntax for k in K.SOURCE_KIND_TABLE if k.syntax not in text]
    assert not missing, f"`snnstudio {command} --help` does not list {missing}"


def test_the_parser_accepts_every_declared_kind_and_lists_them_when_lost():
    for k in K.SOURCE_KIND_TABLE:
        assert parse_source_spec(k.name) == (k.name, None)
        assert parse_source_spec(f"{k.name.upper()}:x") == (k.name, "x")
    with pytest.raises(SourceSpecError) as info:
        parse_source_spec("telepathy")
    assert all(k.syntax in str(info.value) for k in K.SOURCE_KIND_TABLE)


def test_the_flags_drive_preprocessing_and_pacing():
    assert K.SOURCE_KINDS == ("file", "camera", "network", "webcam", "video", "synthetic")
    for k in K.SOURCE_KIND_TABLE:
        assert default_preprocess(k.name).mirror is k.mirrored
        assert not (k.self_paced and not k.live), f"{k.name}: a device that paces itself is streamed live"
    # what the session did before the table: devices pace themselves, video and synthetic are paced
    assert set(K.SELF_PACED_KINDS) == {"camera", "webcam", "network"}
    assert set(K.LIVE_KINDS) == {"camera", "webcam", "network", "video", "synthetic"}
    assert set(K.FRAME_KINDS) == {"video", "webcam"} and K.MIRRORED_KINDS == ("webcam",)


def test_the_engine_and_commands_keep_no_copy_of_the_kinds():
    """No tuple of kind names written out again beside the registry (the session, predict and
    record had their own). ``gui --demo``'s choices are the demo's sources, another list."""
    names = "|".join(K.SOURCE_KINDS)
    pattern = re.compile(rf'\(\s*"({names})"\s*,\s*"({names})"')
    files = [*(REPO / "snnstudio" / "engine").rglob("*.py"), *(REPO / "snnstudio" / "events").rglob("*.py"),
             *(REPO / "snnstudio" / "commands" / f"{c}.py" for c in ("predict", "record"))]
    found = []
    for f in sorted(files):
        if f.name != "kinds.py":
            found += [f"{f.relative_to(REPO)}: {m.group(0)}" for m in pattern.finditer(f.read_text(encoding="utf-8"))]
    assert not found, "\n".join(found)
    assert set(K.FILE_KINDS) == {"file", "video"}
