"""Writers write only what the user named: regular files, through symbolic links, no temp files left.

Device nodes, FIFOs and links are made in the test's own temp folder; no real device is touched.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from snnstudio.cli import main
from snnstudio.errors import EventFileError
from snnstudio.events.io import FORMATS, Aedat4Writer, read_events, write_events
from snnstudio.safe_files import OutputFileError, atomic_write, check_output, clean_stale_temps

WRITABLE = {name: f.extensions[0] if f.extensions else ".raw" for name, f in FORMATS.items() if f.writer}


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def _char_device(path: Path) -> Path:
    """A /dev/null-like node in the temp folder (root only)."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, AttributeError):
        pytest.skip("making a device node needs root")
    return path


@pytest.mark.parametrize("kind", ["fifo", "folder", "device"])
def test_an_output_that_is_not_a_regular_file_is_refused(tmp_path, rec, kind):
    target = tmp_path / "out.csv"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "folder":
        target.mkdir()
    else:
        _char_device(target)
    before = os.lstat(target)
    with pytest.raises(EventFileError, match=r"out\.csv: exists and is a (FIFO|folder|character device)"):
        write_events(target, rec)
    after = os.lstat(target)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)  # still the node it was
    assert _hidden(tmp_path) == []


def test_a_link_to_a_device_is_refused_and_the_link_kept(tmp_path, rec):
    dev = _char_device(tmp_path / "null")
    link = tmp_path / "out.npz"
    link.symlink_to(dev)
    with pytest.raises(EventFileError, match="character device .via the link"):
        write_events(link, rec)
    assert link.is_symlink() and stat.S_ISCHR(os.stat(link).st_mode)


@pytest.mark.parametrize("fmt", sorted(WRITABLE))
def test_a_symbolic_link_is_written_through(tmp_path, make_recording, fmt):
    rec = make_recording(n=2000, size=(128, 128), t0=1000)  # fits every format
    real_dir = tmp_path / "data"
    real_dir.mkdir()
    target = real_dir / f"real{WRITABLE[fmt]}"
    target.write_bytes(b"old")
    target.chmod(0o640)
    link = tmp_path / f"link{WRITABLE[fmt]}"
    link.symlink_to(target)
    write_events(link, rec, format=fmt)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # the file keeps its own permissions
    np.testing.assert_array_equal(read_events(target, format=fmt).events, rec.events)
    assert _hidden(real_dir) == [] and _hidden(tmp_path) == []


def test_a_dangling_link_makes_its_target(tmp_path, rec):
    link = tmp_path / "out.h5"
    link.symlink_to(tmp_path / "made.h5")
    write_events(link, rec)
    assert link.is_symlink() and (tmp_path / "made.h5").is_file()


def test_a_looping_link_is_refused(tmp_path, rec):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.symlink_to(b)
    b.symlink_to(a)
    with pytest.raises(EventFileError, match="a.csv"):
        write_events(a, rec)


def test_incremental_aedat4_writer_through_a_link_and_into_a_fifo(tmp_path, rec):
    target = tmp_path / "t.aedat4"
    link = tmp_path / "l.aedat4"
    link.symlink_to(target)
    with Aedat4Writer(link, rec.sensor_size) as w:
        w.write(rec.events)
    assert link.is_symlink() and read_events(target).events.shape == rec.events.shape
    os.mkfifo(tmp_path / "f.aedat4")
    with pytest.raises(EventFileError, match="FIFO"):
        Aedat4Writer(tmp_path / "f.aedat4", rec.sensor_size)
    assert _hidden(tmp_path) == []


def test_a_failing_writer_leaves_no_temp_file(tmp_path):
    target = tmp_path / "x.bin"
    target.write_bytes(b"keep")
    with pytest.raises(RuntimeError), atomic_write(target) as (tmp, f):
        f.write(b"partial")
        assert tmp.parent == tmp_path and tmp.name.startswith(".x.bin.") and tmp.exists()
        raise RuntimeError("boom")
    assert target.read_bytes() == b"keep" and _hidden(tmp_path) == []
    with pytest.raises(KeyboardInterrupt), atomic_write(target) as (tmp, f):
        raise KeyboardInterrupt
    assert target.read_bytes() == b"keep" and _hidden(tmp_path) == []


def test_new_files_get_ordinary_permissions(tmp_path):
    mask = os.umask(0o027)
    try:
        with atomic_write(tmp_path / "a.txt", "w") as (_, f):
            f.write("x")
    finally:
        os.umask(mask)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o640  # 0o666 & ~0o027, not 0o600


def test_stale_temp_files_of_the_same_output_are_cleaned(tmp_path, rec):
    old = time.time() - 3600
    stale = tmp_path / ".rec.npz.ab12cd_9.tmp"
    other_output = tmp_path / ".other.npz.ab12cd_9.tmp"
    not_ours = tmp_path / ".rec.npz.notours.tmp"
    fresh = tmp_path / ".rec.npz.zz12cd_9.tmp"
    for p in (stale, other_output, not_ours, fresh):
        p.write_bytes(b"x")
        os.utime(p, (old, old))
    os.utime(fresh, None)  # modified now: maybe a writer still running
    write_events(tmp_path / "rec.npz", rec)
    assert not stale.exists()
    assert other_output.exists() and not_ours.exists() and fresh.exists()
    assert clean_stale_temps(tmp_path / "other.npz") == [other_output]


def test_check_output_says_what_is_wrong_before_writing(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputFileError, match="does not exist"):
        check_output(tmp_path / "missing" / "out.csv")
    with pytest.raises(OutputFileError, match="is not a folder"):
        check_output(tmp_path / "file" / "out.csv")
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(OutputFileError, match="is a folder"):
        check_output(tmp_path / "dir.csv")
    assert check_output(tmp_path / "ok.csv") == tmp_path / "ok.csv"
    assert not (tmp_path / "ok.csv").exists() and _hidden(tmp_path) == []


def test_sigterm_while_writing_removes_the_temp_file(tmp_path):
    script = textwrap.dedent(f"""
        import sys, time
        from snnstudio.safe_files import atomic_write
        with atomic_write({str(tmp_path / 'out.bin')!r}) as (tmp, f):
            f.write(b"partial"); f.flush()
            print(tmp, flush=True)
            time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    tmp = Path(proc.stdout.readline().strip())
    assert tmp.exists()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == -signal.SIGTERM  # still ends as killed by the signal
    assert not tmp.exists() and not (tmp_path / "out.bin").exists()


# ------------------------------------------------------------------------------------ CLI
def _convert(capsys, *argv) -> tuple[int, str]:
    code = main(["convert", *map(str, argv)])
    return code, capsys.readouterr().err


def test_convert_refuses_a_device_even_with_force(tmp_path, rec, capsys):
    src = tmp_path / "in.npz"
    write_events(src, rec)
    dev = _char_device(tmp_path / "null")
    code, err = _convert(capsys, src, dev, "--format", "csv", "--force")
    assert code == 1 and err.count("\n") == 1 and "character device" in err
    assert stat.S_ISCHR(os.lstat(dev).st_mode)


def test_convert_checks_the_output_before_reading_the_input(tmp_path, rec, capsys, monkeypatch):
    import snnstudio.events.io as io

    src = tmp_path / "in.npz"
    write_events(src, rec)

    def must_not_read(*a, **k):
        raise AssertionError("input read before the output was checked")

    monkeypatch.setattr(io, "read_events", must_not_read)
    monkeypatch.setattr(io, "iter_event_chunks", must_not_read)
    (tmp_path / "f").write_text("x")
    for out in (tmp_path / "nope" / "o.csv", tmp_path / "f" / "o.aedat4"):
        code, err = _convert(capsys, src, out)
        assert code == 1 and err.startswith(f"error: {out}:") and err.count("\n") == 1


def test_eval_out_is_checked_before_evaluating(tmp_path, capsys, monkeypatch):
    import snnstudio.train.evaluate as ev

    monkeypatch.setattr(ev, "ablation_table", lambda *a, **k: pytest.fail("evaluated before checking --out"))
    code = main(["eval", "--out", str(tmp_path / "missing" / "t.json")])
    err = capsys.readouterr().err
    assert code == 1 and "does not exist" in err and err.count("\n") == 1
