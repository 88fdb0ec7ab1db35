"""Issue 16, item 5: `--out`/`-o` (every atomic write to a user-named path, triage.fileio)
writes through devices and FIFOs instead of replacing them, replaces a symlink's target and
not the link, refuses what it cannot write, and keeps a file's mode."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from .helpers import inproc
from .test_snapshot_bounds import GOOD


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    path = tmp_path / "s.json"
    path.write_text(json.dumps(GOOD))
    return path


def report_to(snapshot: Path, out: Path | str) -> tuple[int, str]:
    status, _, err = inproc("report", str(snapshot), str(snapshot), "--format", "json", "-o", str(out))
    return status, err


def test_a_device_node_is_written_through_not_replaced(tmp_path, snapshot):
    node = tmp_path / "null"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # the same device as /dev/null
    except PermissionError:
        pytest.skip("creating a device node needs CAP_MKNOD")
    status, err = report_to(snapshot, node)
    assert status == 0, err
    assert stat.S_ISCHR(os.stat(node).st_mode)


def test_a_fifo_with_a_reader_gets_the_report_and_stays_a_fifo(tmp_path, snapshot):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader is there before the write
    try:
        status, err = report_to(snapshot, fifo)
        assert status == 0, err
        received = os.read(reader, 1 << 16)
    finally:
        os.close(reader)
    assert json.loads(received)["verdict"] == "ok"
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_a_fifo_nobody_reads_is_refused_not_waited_on(tmp_path, snapshot):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    status, err = report_to(snapshot, fifo)
    assert status == 2 and err == f"triage: error: {fifo}: a FIFO that nobody reads; refusing to wait for a reader\n"
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_a_symlink_stays_a_link_and_its_target_is_replaced(tmp_path, snapshot):
    target = tmp_path / "real.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target.name)
    status, err = report_to(snapshot, link)
    assert status == 0, err
    assert link.is_symlink() and os.readlink(link) == "real.json"
    assert json.loads(target.read_text())["verdict"] == "ok"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "real.json", "s.json"]  # no temp left


def test_a_dangling_symlink_creates_its_target(tmp_path, snapshot):
    link = tmp_path / "link.json"
    link.symlink_to("made.json")
    status, err = report_to(snapshot, link)
    assert status == 0, err
    assert link.is_symlink() and json.loads((tmp_path / "made.json").read_text())["verdict"] == "ok"


def test_a_directory_is_refused(tmp_path, snapshot):
    status, err = report_to(snapshot, tmp_path)
    assert status == 2 and f"{tmp_path}: is a directory" in err and err.count("\n") == 1, err


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o600, 0o664])
def test_an_overwrite_keeps_the_file_mode(tmp_path, snapshot, mode):
    out = tmp_path / "r.json"
    out.write_text("old")
    out.chmod(mode)
    status, err = report_to(snapshot, out)
    assert status == 0, err
    assert stat.S_IMODE(os.stat(out).st_mode) == mode


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_a_new_file_gets_the_umask_mode(tmp_path, snapshot, umask, mode):
    old = os.umask(umask)
    try:
        status, err = report_to(snapshot, tmp_path / "new.json")
    finally:
        os.umask(old)
    assert status == 0, err
    assert stat.S_IMODE(os.stat(tmp_path / "new.json").st_mode) == mode
