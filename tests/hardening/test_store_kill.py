"""Issue 16, item 4: a save killed with SIGKILL (the process, or its whole process group with
git inside) never breaks the store. Each test kills a real `triage baseline save` at a named
point: the store tells the test through a pipe that it got there (TRIAGE_STORE_PAUSE), the
test kills it, then checks what readers see and that the next save repairs everything."""

from __future__ import annotations

import json
import os
import select
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from triage.store import lock_holders

from .helpers import inproc
from .test_snapshot_bounds import GOOD

POINTS = ["journaled", "temp-written", "written", "staged", "committed"]


def snapshot(tmp_path: Path, n: int, host: str = "node-1") -> Path:
    data = json.loads(json.dumps(GOOD))
    data["taken_at"] = f"2026-11-23T15:00:{n:02d}Z"
    data["host"] = host
    path = tmp_path / f"run{n}.json"
    path.write_text(json.dumps(data))
    return path


def save(store: Path, label: str, path: Path) -> tuple[int, str]:
    status, out, err = inproc("baseline", "save", label, str(path), "--store", str(store))
    return status, out + err


def started_save(store: Path, label: str, path: Path, env: dict[str, str], pass_fds=()) -> subprocess.Popen:
    """`triage baseline save` in its own process group, as CI runs a step."""
    return subprocess.Popen([sys.executable, "-m", "triage", "baseline", "save", label, str(path), "--store",
                             str(store)], env={**os.environ, "CI": "true", **env}, pass_fds=pass_fds,
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for(fd: int, timeout: float = 60) -> bytes:
    """What the child reports on ``fd``; b"" if it exited first (EOF), never a hang."""
    ready, _, _ = select.select([fd], [], [], timeout)
    assert ready, "the save never reached its pause point"
    return os.read(fd, 100)


def kill_group(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)


def store_state(store: Path) -> tuple[str, list[str], list[str]]:
    """(git status of the store, tracked run files, temp files left)."""
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all", "--ignored"], cwd=store,
                            capture_output=True, text=True, check=True).stdout
    tracked = subprocess.run(["git", "ls-tree", "-r", "--name-only", "HEAD"], cwd=store, capture_output=True,
                             text=True, check=True).stdout.split()
    temps = [str(p.relative_to(store)) for p in store.rglob(".triage-*") if ".git" not in p.parts]
    return status, sorted(t for t in tracked if t.endswith(".json")), temps


def shown_runs(store: Path, label: str) -> int:
    status, out, err = inproc("baseline", "show", label, "--store", str(store), "--format", "json")
    assert status == 0, err
    return len(json.loads(out))


@pytest.mark.parametrize("point", POINTS)
def test_a_save_killed_at_any_point_is_all_or_nothing(tmp_path, point):
    store = tmp_path / "store"
    assert save(store, "4.3.19", snapshot(tmp_path, 1))[0] == 0
    read_end, write_end = os.pipe()
    proc = started_save(store, "4.3.19", snapshot(tmp_path, 2), {"TRIAGE_STORE_PAUSE": f"{point}:{write_end}"},
                        pass_fds=(write_end,))
    os.close(write_end)
    try:
        assert wait_for(read_end) == f"{point}\n".encode()
        kill_group(proc)
    finally:
        os.close(read_end)
    assert proc.returncode == -signal.SIGKILL

    # Readers never pool the half-saved run, whatever state it was left in.
    assert shown_runs(store, "4.3.19") == 1

    # The next writer finishes or rolls back what the killed one left, then saves.
    status, output = save(store, "4.3.19", snapshot(tmp_path, 3))
    assert status == 0 and "Traceback" not in output, output
    git_status, tracked, temps = store_state(store)
    assert git_status == "" and temps == []
    expected = ["4.3.19/2026-11-23T15_00_01Z-node-1.json", "4.3.19/2026-11-23T15_00_03Z-node-1.json"]
    if point == "committed":  # the killed save's commit was made: it counts
        expected.insert(1, "4.3.19/2026-11-23T15_00_02Z-node-1.json")
    assert tracked == expected
    assert shown_runs(store, "4.3.19") == len(expected)


def test_a_first_save_killed_before_its_commit_leaves_no_label(tmp_path):
    store = tmp_path / "store"
    read_end, write_end = os.pipe()
    proc = started_save(store, "new", snapshot(tmp_path, 1), {"TRIAGE_STORE_PAUSE": f"staged:{write_end}"},
                        pass_fds=(write_end,))
    os.close(write_end)
    try:
        assert wait_for(read_end) == b"staged\n"
        kill_group(proc)
    finally:
        os.close(read_end)
    assert save(store, "other", snapshot(tmp_path, 2))[0] == 0
    status, out, _ = inproc("baseline", "list", "--store", str(store))
    assert status == 0 and "new" not in out
    assert store_state(store)[0] == ""


def test_git_killed_holding_index_lock_does_not_break_later_saves(tmp_path):
    """kill -9 of the save's process group while git commit holds .git/index.lock: a
    prepare-commit-msg hook (git runs it with the lock held) signals the test and waits."""
    store = tmp_path / "store"
    assert save(store, "4.3.19", snapshot(tmp_path, 1))[0] == 0
    fifo = tmp_path / "hook-reached"
    os.mkfifo(fifo)
    hook = store / ".git" / "hooks" / "prepare-commit-msg"
    hook.write_text(f"#!/bin/sh\necho hook > '{fifo}'\nexec tail -f /dev/null\n")
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # open before the hook writes: no one blocks
    proc = started_save(store, "4.3.19", snapshot(tmp_path, 2), {})
    try:
        assert wait_for(reader) == b"hook\n"
        kill_group(proc)
    finally:
        os.close(reader)
    hook.unlink()
    assert (store / ".git" / "index.lock").exists()  # what git left behind

    assert shown_runs(store, "4.3.19") == 1
    status, output = save(store, "4.3.19", snapshot(tmp_path, 3))
    assert status == 0 and "Traceback" not in output, output
    git_status, tracked, temps = store_state(store)
    assert git_status == "" and temps == [] and not (store / ".git" / "index.lock").exists()
    assert tracked == ["4.3.19/2026-11-23T15_00_01Z-node-1.json", "4.3.19/2026-11-23T15_00_03Z-node-1.json"]


def test_a_300_character_host_is_saved_under_a_bounded_name(tmp_path):
    store = tmp_path / "store"
    status, output = save(store, "a", snapshot(tmp_path, 1, host="h" * 300))
    assert status == 0, output
    (run,) = (store / "a").glob("*.json")
    assert len(run.name) <= 125 and shown_runs(store, "a") == 1


def test_a_lock_a_live_process_holds_is_not_taken_for_stale(tmp_path):
    lock = tmp_path / "index.lock"
    lock.write_text("")
    holder = subprocess.Popen([sys.executable, "-c", "import sys; f = open(sys.argv[1]); print('open', flush=True); "
                               "sys.stdin.read()", str(lock)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline() == b"open\n"
        assert lock_holders(str(lock), str(tmp_path)) == [holder.pid]
    finally:
        holder.communicate(b"")
    assert lock_holders(str(lock), str(tmp_path)) == []


def test_a_commit_git_refuses_is_rolled_back_and_exit_2(tmp_path):
    store = tmp_path / "store"
    assert save(store, "4.3.19", snapshot(tmp_path, 1))[0] == 0
    hook = store / ".git" / "hooks" / "prepare-commit-msg"
    hook.write_text("#!/bin/sh\necho 'commits are frozen today' >&2\nexit 1\n")
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
    status, output = save(store, "4.3.19", snapshot(tmp_path, 2))
    assert status == 2 and "Traceback" not in output, output
    assert output.startswith(f"triage: error: store {store}: git failed, nothing was changed") and \
        output.count("\n") == 1, output
    git_status, tracked, temps = store_state(store)
    assert git_status == "" and temps == [] and tracked == ["4.3.19/2026-11-23T15_00_01Z-node-1.json"]
