"""One store for many CI runners: `--store` naming a git remote (triage/store_remote.py), with
real git, real processes and `file://` remotes in temp directories. Nothing leaves loopback:
the https and ssh URLs below only parse, or fail on 127.0.0.1 (a refused port; a fake ssh)."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_runner import InProcessTriage
from triage.errors import BadInput, StoreError
from triage.judging import Judging
from triage.model import Measurement, ProbeResult, Snapshot
from triage.rerun import for_gate
from triage.store_remote import RemoteStore, clone_name, is_remote

PROXIES = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy")


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def remote(tmp_path) -> str:
    """An empty bare repository: the shared store, as a file:// URL."""
    git("init", "--quiet", "--bare", str(tmp_path / "remote.git"))
    return f"file://{tmp_path / 'remote.git'}"


def remote_runs(url: str) -> list[str]:
    gitdir = url.removeprefix("file://")
    try:
        listed = git("--git-dir", gitdir, "ls-tree", "-r", "--name-only", "HEAD")
    except subprocess.CalledProcessError:
        return []  # no commit yet
    return sorted(p for p in listed.split() if p.endswith(".json"))


def run_file(tmp_path: Path, n: int, host: str = "runner", ms: float = 1.0) -> Path:
    snap = Snapshot("x", f"2026-11-23T15:00:{n:02d}Z", host, "0.1.0", (ProbeResult(
        "kernel", "tcp_connect", "db", measurements=(Measurement.samples(
            "latency", [ms + i / 1000 for i in range(20)], unit="ms"),)),))
    path = tmp_path / f"run-{host}-{n}.json"
    path.write_text(snap.to_json())
    return path


def cli(tmp_path: Path, cache: str, *args: str, **env: str):
    return InProcessTriage(str(tmp_path))(*args, env={"XDG_CACHE_HOME": str(tmp_path / cache), **env}, drop=PROXIES)


# --- which stores are remotes (parsing only) -----------------------------------------------------


@pytest.mark.parametrize("spec", ["https://git.example.com/ci/baselines.git", "ssh://git@git.example.com:2222/ci/b",
                                  "git@github.com:ci/baselines.git", "file:///srv/baselines.git",
                                  "https://x-access-token:ghp_abc@github.com/ci/b.git"])
def test_git_urls_name_remotes(spec):
    assert is_remote(spec)


@pytest.mark.parametrize("spec", ["baselines", "./store", "/srv/baselines", "C:store", "4.3.18", "me@host"])
def test_paths_are_directories(spec):
    assert not is_remote(spec)


def test_another_scheme_is_refused_with_the_credentials_masked():
    with pytest.raises(BadInput, match=r"--store ftp://u:\*\*\*@h/x: expected a directory or a git URL"):
        is_remote("ftp://u:hunter2@h/x")


def test_the_clone_name_is_safe_and_carries_no_credentials():
    a = clone_name("https://x-access-token:ghp_SECRETSECRET@github.com/ci/base%20lines.git")
    b = clone_name("https://other:token2@github.com/ci/base%20lines.git")
    assert a == b  # one clone per remote, whoever's token
    assert "SECRET" not in a and "x-access-token" not in a and "/" not in a and not a.startswith(".")
    assert a.startswith("github.com_ci_base_20lines.git-")
    assert clone_name("git@github.com:ci/b.git") != clone_name("ssh://git@github.com/ci/b.git")


def test_a_rerun_command_never_shows_the_store_credentials():
    (command,) = for_gate("4.3.18", "4.3.19", Judging(store="https://ci:t0ken-value-123@git.example.com/b.git"))
    assert "t0ken" not in command and "--store 'https://***@git.example.com/b.git'" in command


# --- saves and reads through a file:// remote ------------------------------------------------------


def test_four_saves_at_once_from_four_clones_all_reach_the_remote_and_a_fifth_cache_compares_them(tmp_path, remote):
    for i in range(4):  # four runners, each with its clone already made
        assert cli(tmp_path, f"cache-{i}", "baseline", "list", "--store", remote).code == 0
    saves = [subprocess.Popen([sys.executable, "-m", "triage", "baseline", "save", "4.3.18",
                               str(run_file(tmp_path, i, host=f"runner-{i}")), "--store", remote],
                              env={**os.environ, "CI": "true", "XDG_CACHE_HOME": str(tmp_path / f"cache-{i}")},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(4)]
    outcomes = [p.communicate(timeout=300) + (p.returncode,) for p in saves]
    assert [code for _, _, code in outcomes] == [0, 0, 0, 0], outcomes
    assert len(remote_runs(remote)) == 4 and {r.split("/")[0] for r in remote_runs(remote)} == {"4.3.18"}
    log = git("--git-dir", remote.removeprefix("file://"), "log", "--format=%s", "HEAD").splitlines()
    assert len(log) == 4 and all(s.startswith("triage: save 4.3.18 run ") for s in log)
    compared = cli(tmp_path, "cache-5", "compare", "4.3.18", str(run_file(tmp_path, 9, host="new")), "--format",
                   "json", TRIAGE_STORE=remote)
    assert compared.code == 0, compared.stderr
    assert compared.json()["baseline"]["runs"] == 4
    assert sorted(compared.json()["baseline"]["hosts"]) == [f"runner-{i}" for i in range(4)]


def test_a_save_behind_the_remote_is_rebased_and_pushed(tmp_path, remote):
    a = RemoteStore(remote, str(tmp_path / "a")).sync()
    b = RemoteStore(remote, str(tmp_path / "b")).sync()  # b's clone predates a's push: its push is refused once
    a.save_snapshot("4.3.18", Snapshot.load(str(run_file(tmp_path, 1, "a"))))
    b.save_snapshot("4.3.18", Snapshot.load(str(run_file(tmp_path, 2, "b"))))
    assert len(remote_runs(remote)) == 2
    assert git("status", "--porcelain", cwd=Path(b.root)) == ""
    assert len(RemoteStore(remote, str(tmp_path / "c")).sync().runs("4.3.18")) == 2
    assert len(a.sync().runs("4.3.18")) == 2  # a fetches b's run before reading


def test_the_same_run_saved_twice_from_two_clones_is_one_run(tmp_path, remote):
    path = run_file(tmp_path, 1)
    a, b = (RemoteStore(remote, str(tmp_path / c)).sync() for c in "ab")
    a.save_snapshot("4.3.18", Snapshot.load(str(path)))
    b.save_snapshot("4.3.18", Snapshot.load(str(path)))  # same name, same content: nothing to conflict
    assert len(remote_runs(remote)) == 1


def rejecting(remote: str, message: str = "store is read-only") -> Path:
    hook = Path(remote.removeprefix("file://")) / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\necho '{message}' >&2\nexit 1\n")
    hook.chmod(0o755)
    return hook


def test_a_push_that_fails_keeps_the_run_committed_exits_2_naming_the_remote_and_the_next_save_pushes_it(
        tmp_path, remote):
    assert cli(tmp_path, "c", "baseline", "save", "4.3.18", str(run_file(tmp_path, 1)), "--store", remote).code == 0
    hook = rejecting(remote)
    failed = cli(tmp_path, "c", "baseline", "save", "4.3.18", str(run_file(tmp_path, 2)), "--store", remote)
    assert failed.code == 2 and failed.stderr.count("\n") == 1, failed.stderr
    assert failed.stderr.startswith(f"triage: error: store {remote}: not pushed ([remote rejected] "
                                    "(pre-receive hook declined)); the run is committed in "), failed.stderr
    assert failed.stderr.rstrip().endswith("and the next save pushes it")
    clone = tmp_path / "c" / "triage" / "stores" / clone_name(remote)
    assert len(remote_runs(remote)) == 1
    assert len(git("log", "--format=%s", cwd=clone).splitlines()) == 2  # nothing lost
    listed = cli(tmp_path, "c", "baseline", "list", "--store", remote)  # fetching keeps the unpushed run
    assert listed.code == 0 and listed.stdout.startswith("4.3.18\t2 runs"), listed.stdout
    hook.unlink()
    assert cli(tmp_path, "c", "baseline", "save", "4.3.18", str(run_file(tmp_path, 3)), "--store", remote).code == 0
    assert len(remote_runs(remote)) == 3


def test_a_gate_that_passes_stores_its_run_on_the_remote(tmp_path, remote):
    assert cli(tmp_path, "c1", "baseline", "save", "4.3.18", str(run_file(tmp_path, 1)), "--store", remote).code == 0
    assert cli(tmp_path, "c1", "probe", "--layers", "kernel", "--label", "4.3.18", "--out", "k.json", "-q").code == 0
    assert cli(tmp_path, "c1", "baseline", "save", "4.3.18", "k.json", "--store", remote).code == 0
    gated = cli(tmp_path, "c2", "gate", "--baseline", "4.3.18", "--layers", "kernel", "--label", "4.3.19",
                "--save-as", "4.3.19", "-q", TRIAGE_STORE=remote)
    assert gated.code in (0, 3, 4), gated.stderr
    assert any(r.startswith("4.3.19/") for r in remote_runs(remote)) == (gated.code == 0)


# --- credentials, timeouts, killed writers ------------------------------------------------------------


def test_credentials_in_the_url_never_reach_output_or_the_cache_name(tmp_path):
    for url in ("https://ci:s3cr3t-Passw0rd-xyz@127.0.0.1:1/store.git", "https://ghp_T0kenAsUserName99@127.0.0.1:1/s"):
        out = cli(tmp_path, "c", "baseline", "list", "--store", url)
        assert out.code == 2 and out.stderr.count("\n") == 1, out.stderr
        assert out.stderr.startswith("triage: error: store https://***@127.0.0.1:1/"), out.stderr
        assert "git clone failed: " in out.stderr
        assert "s3cr3t" not in out.stdout + out.stderr and "T0ken" not in out.stdout + out.stderr
    names = os.listdir(tmp_path / "c" / "triage" / "stores")
    assert names and not any("s3cr3t" in n or "T0ken" in n for n in names)
    assert not [n for n in names if ".clone-" in n]  # a failed clone leaves nothing half made


def test_a_remote_that_never_answers_is_given_up_after_the_timeout(tmp_path):
    pidfile = tmp_path / "ssh.pid"
    fake_ssh = tmp_path / "fake-ssh"
    fake_ssh.write_text(f"#!/bin/sh\necho $$ > {pidfile}\nexec sleep 300\n")  # a host that accepts and then hangs
    fake_ssh.chmod(0o755)
    out = cli(tmp_path, "c", "baseline", "list", "--store", "ssh://git@127.0.0.1/srv/store.git",
              GIT_SSH_COMMAND=str(fake_ssh), TRIAGE_GIT_TIMEOUT="1")
    assert out.code == 2, out.stdout + out.stderr
    assert out.stderr == ("triage: error: store ssh://git@127.0.0.1/srv/store.git: git clone did not finish in 1 s "
                          "($TRIAGE_GIT_TIMEOUT)\n")
    pid = int(pidfile.read_text())
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        state = "gone"
    assert state in ("gone", "Z"), state  # the whole group was killed, ssh included


def test_a_bad_timeout_setting_is_bad_input(tmp_path, remote):
    out = cli(tmp_path, "c", "baseline", "list", "--store", remote, TRIAGE_GIT_TIMEOUT="soon")
    assert out.code == 2 and "$TRIAGE_GIT_TIMEOUT: expected seconds" in out.stderr


def test_a_save_killed_in_the_clone_is_rolled_back_and_never_pushed(tmp_path, remote):
    cache = {"XDG_CACHE_HOME": str(tmp_path / "c")}
    assert cli(tmp_path, "c", "baseline", "save", "4.3.18", str(run_file(tmp_path, 1)), "--store", remote).code == 0
    read_end, write_end = os.pipe()
    proc = subprocess.Popen([sys.executable, "-m", "triage", "baseline", "save", "4.3.18",
                             str(run_file(tmp_path, 2)), "--store", remote],
                            env={**os.environ, "CI": "true", **cache, "TRIAGE_STORE_PAUSE": f"written:{write_end}"},
                            pass_fds=(write_end,), start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    os.close(write_end)
    ready, _, _ = select.select([read_end], [], [], 120)
    assert ready and os.read(read_end, 100) == b"written\n"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    os.close(read_end)
    store = RemoteStore(remote, str(tmp_path / "c" / "triage" / "stores"))
    assert len(store.runs("4.3.18")) == 1  # the journaled run is never read
    store.sync()  # the next writer's recovery, under the lock
    assert git("status", "--porcelain", "--untracked-files=all", cwd=Path(store.root)) == ""
    assert len(store.runs("4.3.18")) == 1 and len(remote_runs(remote)) == 1


def test_an_unusable_cache_entry_is_refused_not_overwritten(tmp_path, remote):
    store = RemoteStore(remote, str(tmp_path / "c"))
    os.makedirs(store.root)
    Path(store.root, "keep.txt").write_text("mine")
    with pytest.raises(StoreError, match="exists but is not triage's clone of file://"):
        store.sync()
    assert Path(store.root, "keep.txt").read_text() == "mine"



def test_two_snapshot_files_are_compared_without_cloning_the_store(tmp_path):
    """No side is a label, so the store is never opened: a remote that does not exist is not
    cloned (a CI job with $TRIAGE_STORE set pays no fetch for `compare a.json b.json`)."""
    missing = f"file://{tmp_path / 'no-such-remote.git'}"
    a, b = run_file(tmp_path, 1), run_file(tmp_path, 2)
    for command in ("compare", "changes"):
        out = cli(tmp_path, "cache", command, str(a), str(b), "--format", "json", TRIAGE_STORE=missing)
        assert out.code == 0, out.stderr
    assert not (tmp_path / "cache").exists()
    labelled = cli(tmp_path, "cache", "compare", "4.3.18", str(b), TRIAGE_STORE=missing)
    assert labelled.code == 2 and "no-such-remote.git" in labelled.stderr  # a label needs the store
