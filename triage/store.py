"""The baseline store: snapshots kept per label, every change a git commit.

Layout: ``<store>/<label>/<run-id>.json`` where run-id is ``<taken_at>-<host>`` made
filesystem-safe (and at most ``RUN_ID_MAX`` characters). A label keeps several runs; compare
pools them. Writes are atomic and serialised by an exclusive lock on the store directory.
Only the store's own files are ever committed, even when the store sits inside a larger
repository.

A save or a remove is all or nothing, even under ``kill -9`` (issue 16). Before touching a
run file the writer records what it is about to do in a journal (``JOURNAL``); readers never
see a run the journal names (so a half-saved run is never pooled); the journal goes once the
commit is made. The next writer, under the same lock, first recovers: it rolls back what a
dead writer's journal names (a run saved but not committed is unstaged and deleted; runs
removed but not committed are restored), clears a stale ``.git/index.lock`` (no live process
holds it, or it is older than ``STALE_LOCK_S``), and deletes orphaned ``.triage-*.tmp`` files.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import json
import os
import re
import signal
import time
from dataclasses import dataclass
from typing import Iterable, Iterator

from .errors import BadInput, StoreError
from .fileio import TEMP_PREFIX, TEMP_SUFFIX, atomic_write_text
from .model import Snapshot

DEFAULT_STORE = "baselines"
STORE_ENV = "TRIAGE_STORE"
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
RUN_ID_MAX = 120  # a file name is at most 255 bytes; a 300-character host hit ENAMETOOLONG
JOURNAL = f"{TEMP_PREFIX}journal{TEMP_SUFFIX}"  # matches the store's .gitignore pattern
STALE_LOCK_S = 600.0  # no git command holds index.lock for 10 minutes: its owner is gone
LOCK_WAIT_S = 10.0  # how long to wait for a live git process to release index.lock
# Tests kill a save at a named point: "<point>:<fd>" makes the store write the point's name
# to that file descriptor (a pipe the test waits on) and stop there until killed.
PAUSE_ENV = "TRIAGE_STORE_PAUSE"


def write_gitignore(root: str) -> None:
    """The store's .gitignore: its temporary files (and the journal) are never committed."""
    with open(os.path.join(root, ".gitignore"), "w", encoding="utf-8") as fh:
        fh.write(f"{TEMP_PREFIX}*{TEMP_SUFFIX}\n")


def resolve_store_path(option: str | None) -> str:
    """--store, else $TRIAGE_STORE, else ./baselines."""
    return option or os.environ.get(STORE_ENV) or DEFAULT_STORE


def check_label(label: str) -> str:
    if not _LABEL.match(label) or label in (".", ".."):
        raise BadInput(f"label {label!r}: expected letters, digits and . _ + - (e.g. 4.3.19), at most 100 characters")
    return label


@dataclass(frozen=True)
class StoredRun:
    label: str
    run_id: str
    path: str


@dataclass(frozen=True)
class HistoryEntry:
    commit: str
    when: str
    message: str


class SnapshotStore:
    def __init__(self, root: str):
        self.root = os.path.abspath(root)

    # --- reading --------------------------------------------------------------------------

    def labels(self) -> list[str]:
        if not os.path.isdir(self.root):
            return []
        return sorted(name for name in os.listdir(self.root)
                      if _LABEL.match(name) and os.path.isdir(os.path.join(self.root, name)))

    def runs(self, label: str) -> list[StoredRun]:
        """The committed runs of ``label``: a run a save in flight (or killed) is writing is left out."""
        directory = self._label_dir(label)
        names = os.listdir(directory)  # before the journal is read: see _pending
        pending = self._pending("save")
        return [StoredRun(label, name[:-5], os.path.join(directory, name))
                for name in sorted(names, key=lambda n: n[:-5])
                if name.endswith(".json") and not name.startswith(".")
                and os.path.join(directory, name) not in pending]

    def _pending(self, op: str) -> set[str]:
        """Paths the journal says a writer is ``op``-ing. A writer journals a run before it
        creates the file, so a run listed before this read is either still journaled here or
        already committed."""
        entry = self._journal()
        return {os.path.join(self.root, p) for p in entry.get("paths", ())} if entry.get("op") == op else set()

    def _journal(self) -> dict:
        try:
            with open(os.path.join(self.root, JOURNAL), encoding="utf-8") as fh:
                entry = json.load(fh)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise StoreError(f"{os.path.join(self.root, JOURNAL)}: unreadable save journal ({exc}); "
                             "delete it after checking `git status` in the store") from None
        if not isinstance(entry, dict) or not isinstance(entry.get("paths"), list) or \
                not all(isinstance(p, str) for p in entry["paths"]):
            raise StoreError(f"{os.path.join(self.root, JOURNAL)}: not a triage save journal")
        return entry

    def load_label(self, label: str) -> list[Snapshot]:
        """Every run of ``label``; a corrupt or foreign file is refused with its path."""
        runs = self.runs(label)
        if not runs:
            raise StoreError(f"label {label!r} in store {self.root} has no runs")
        return [Snapshot.load(run.path) for run in runs]

    def _label_dir(self, label: str) -> str:
        check_label(label)
        directory = os.path.join(self.root, label)
        if not os.path.isdir(directory):
            known = ", ".join(self.labels()) or "(none)"
            raise StoreError(f"unknown label {label!r} in store {self.root}; known labels: {known}")
        return directory

    def history(self, label: str) -> list[HistoryEntry]:
        directory = self._label_dir(label)
        repo = self._repo(create=False)
        if repo is None:
            return []
        rel = os.path.relpath(directory, repo.working_tree_dir)
        return [HistoryEntry(c.hexsha[:10], c.committed_datetime.isoformat(), c.message.strip())
                for c in repo.iter_commits(paths=rel)]

    # --- writing --------------------------------------------------------------------------

    def save(self, label: str, snapshot_path: str) -> StoredRun:
        """Validate ``snapshot_path`` fully, then store it under ``label`` and commit."""
        check_label(label)
        return self.save_snapshot(label, Snapshot.load(snapshot_path))  # refuses bad input before touching the store

    def save_snapshot(self, label: str, snapshot: Snapshot) -> StoredRun:
        check_label(label)
        text = snapshot.to_json()
        run_id = self._run_name(snapshot, text)
        with self._locked():
            repo = self._repo(create=True)
            self._recover(repo)
            directory = os.path.join(self.root, label)
            path = os.path.join(directory, f"{run_id}.json")
            n = 1
            while os.path.exists(path):
                n += 1
                path = os.path.join(directory, f"{run_id}-{n}.json")
            with self._journaled(repo, "save", [path]):
                os.makedirs(directory, exist_ok=True)
                atomic_write_text(path, text, before_replace=lambda: _checkpoint("temp-written"))
                _checkpoint("written")
                self._commit(repo, [path], f"triage: save {label} run {os.path.basename(path)[:-5]}")
                _checkpoint("committed")
            self._published(repo)
        return StoredRun(label, os.path.basename(path)[:-5], path)

    def remove(self, label: str) -> int:
        with self._locked():
            repo = self._repo(create=True)
            self._recover(repo)
            runs = self.runs(label)
            with self._journaled(repo, "remove", [r.path for r in runs]):
                for run in runs:
                    os.unlink(run.path)
                with contextlib.suppress(OSError):
                    os.rmdir(os.path.join(self.root, label))
                self._commit(repo, [r.path for r in runs], f"triage: remove {label} ({len(runs)} runs)")
            self._published(repo)
        return len(runs)

    def _run_name(self, snapshot: Snapshot, text: str) -> str:
        """The run's file name (without .json); a store shared through a remote adds to it."""
        return _run_id(snapshot)

    def _published(self, repo) -> None:
        """After a commit, still under the lock: a local store is done; one cloned from a git
        remote pushes it (triage.store_remote)."""

    # --- all or nothing ---------------------------------------------------------------------

    @contextlib.contextmanager
    def _journaled(self, repo, op: str, paths: list[str]) -> Iterator[None]:
        """Journal ``op`` on ``paths``, run the block, drop the journal; a block that fails
        (a git error, Ctrl-C) is rolled back first, so nothing half done stays behind."""
        journal = os.path.join(self.root, JOURNAL)
        atomic_write_text(journal, json.dumps({"op": op, "paths": [os.path.relpath(p, self.root) for p in paths]}))
        _checkpoint("journaled")
        try:
            yield
        except BaseException as exc:
            self._roll_back(repo, op, paths)
            os.unlink(journal)
            if isinstance(exc, Exception) and type(exc).__module__.startswith("git"):
                detail = (getattr(exc, "stderr", "") or str(exc)).strip().splitlines()
                raise StoreError(f"store {self.root}: git failed, nothing was changed: "
                                 f"{detail[-1] if detail else type(exc).__name__}") from None
            raise
        os.unlink(journal)

    def _recover(self, repo) -> None:
        """Undo what a killed writer left: its journaled change, a stale index.lock, temp files."""
        _clear_stale_index_lock(repo)
        entry = self._journal()
        if entry:
            self._roll_back(repo, entry.get("op", "save"), [os.path.join(self.root, p) for p in entry["paths"]])
            os.unlink(os.path.join(self.root, JOURNAL))
        for tmp in glob.glob(os.path.join(self.root, f"{TEMP_PREFIX}*{TEMP_SUFFIX}")) + \
                glob.glob(os.path.join(self.root, "*", f"{TEMP_PREFIX}*{TEMP_SUFFIX}")):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def _roll_back(self, repo, op: str, paths: Iterable[str]) -> None:
        """A save not committed: unstage and delete its run (an empty label directory too).
        A remove not committed: restore its runs from HEAD. What HEAD already has stays."""
        for path in paths:
            rel = os.path.relpath(path, repo.working_tree_dir)
            committed = _in_head(repo, rel)
            if op == "save" and not committed:
                repo.git.rm("--cached", "--quiet", "--ignore-unmatch", "--", rel)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                with contextlib.suppress(OSError):
                    os.rmdir(os.path.dirname(path))
            elif op == "remove" and committed and not os.path.exists(path):
                repo.git.checkout("HEAD", "--", rel)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise writers. The lock is taken on the store directory itself, so no lock file
        lingers as an untracked file when the store sits inside someone's repository."""
        os.makedirs(self.root, exist_ok=True)
        fd = os.open(self.root, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # another save in flight: wait for it, never interleave
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _repo(self, create: bool):
        import git

        try:
            return git.Repo(self.root, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            if not create:
                return None
        repo = git.Repo.init(self.root)
        write_gitignore(self.root)
        return repo

    def _commit(self, repo, paths: list[str], message: str) -> None:
        ignore = os.path.join(self.root, ".gitignore")
        if os.path.exists(ignore) and not _in_head(repo, os.path.relpath(ignore, repo.working_tree_dir)):
            paths = [ignore, *paths]  # a new store's first commit carries its .gitignore
        self._commit_paths(repo, paths, message)

    @staticmethod
    def _commit_paths(repo, paths: list[str], message: str) -> None:
        """Commit exactly ``paths`` (additions or deletions), whatever else is staged."""
        rel = [os.path.relpath(p, repo.working_tree_dir) for p in paths]
        present = [r for r, p in zip(rel, paths) if os.path.exists(p)]
        gone = [r for r, p in zip(rel, paths) if not os.path.exists(p)]
        if present:
            repo.git.add("--", *present)
        _checkpoint("staged")
        # Deleted paths go in only if git knew them (one ls-files call, not one per run).
        to_commit = present + (repo.git.ls_files("--", *gone).splitlines() if gone else [])
        if to_commit:
            repo.git.commit("--quiet", "--no-verify", "-m", message, "--", *to_commit, env=identity_env(repo))


def identity_env(repo) -> dict[str, str]:
    """The user's git identity when git has one; a bare CI box has none, so triage's."""
    env = {}
    reader = repo.config_reader()
    if not reader.get_value("user", "name", "") and "GIT_AUTHOR_NAME" not in os.environ:
        env.update(GIT_AUTHOR_NAME="triage", GIT_COMMITTER_NAME="triage")
    if not reader.get_value("user", "email", "") and "GIT_AUTHOR_EMAIL" not in os.environ:
        env.update(GIT_AUTHOR_EMAIL="triage@localhost", GIT_COMMITTER_EMAIL="triage@localhost")
    return env


def _run_id(snapshot: Snapshot) -> str:
    run_id = _UNSAFE.sub("_", f"{snapshot.taken_at}-{snapshot.host}").strip("_") or "run"
    if len(run_id) <= RUN_ID_MAX:
        return run_id
    digest = hashlib.sha256(run_id.encode()).hexdigest()[:12]  # long ones stay distinct
    return f"{run_id[:RUN_ID_MAX - 13]}-{digest}"


def _in_head(repo, rel: str) -> bool:
    import git

    try:
        return bool(repo.git.ls_tree("HEAD", "--", rel))
    except git.GitCommandError:  # no commit yet
        return False


def _clear_stale_index_lock(repo) -> None:
    """A git killed mid-command leaves ``index.lock`` and every later git command fails. It is
    stale when no live process holds it open or works in the repository, or when it is older
    than STALE_LOCK_S (a holder in another PID namespace is invisible here); a live one is
    waited for, up to LOCK_WAIT_S."""
    lock = os.path.join(repo.git_dir, "index.lock")
    waited_until = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            age = time.time() - os.stat(lock).st_mtime
        except FileNotFoundError:
            return
        holders = lock_holders(lock, repo.working_tree_dir)
        if not holders or age > STALE_LOCK_S:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(lock)
            return
        if time.monotonic() > waited_until:
            raise StoreError(f"{lock} is held by a running process (pid {', '.join(map(str, holders))}); "
                             "retry when it has finished")
        time.sleep(0.05)  # polling another program's lock: it gives no signal to wait on


def lock_holders(lock: str, worktree: str | None) -> list[int]:
    """Live processes that hold ``lock`` open, or git processes working in ``worktree``."""
    holders = []
    worktree = os.path.realpath(worktree) if worktree else None
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) == os.getpid():
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            if any(_readlink(f"/proc/{pid}/fd/{fd}") == lock for fd in fds):
                holders.append(int(pid))
                continue
            with open(f"/proc/{pid}/comm", encoding="utf-8") as fh:
                is_git = fh.read().strip() == "git"
            cwd = _readlink(f"/proc/{pid}/cwd")
            if is_git and worktree and cwd and (cwd + os.sep).startswith(worktree + os.sep):
                holders.append(int(pid))
        except OSError:  # gone meanwhile, or not ours to look at
            continue
    return holders


def _readlink(path: str) -> str | None:
    try:
        return os.readlink(path)
    except OSError:
        return None


def _checkpoint(point: str) -> None:
    """Tests only (PAUSE_ENV): tell the test this point is reached, then wait to be killed."""
    spec = os.environ.get(PAUSE_ENV, "")
    name, _, fd = spec.partition(":")
    if name != point or not fd.isdigit():
        return
    os.write(int(fd), f"{point}\n".encode())
    while True:
        signal.pause()


def is_file_spec(spec: str) -> bool:
    """A comparison side names a snapshot file (an existing path, or anything that looks like
    one) rather than a stored label; labels never hold a "/" or end in ".json"."""
    return os.path.isfile(spec) or spec.endswith(".json") or os.sep in spec


def load_side(spec: str, store: SnapshotStore | None) -> tuple[str, list[Snapshot]]:
    """A comparison side and where it came from: ("file", [snapshot]) or ("label", its runs;
    ``store`` is None only when every side is a file)."""
    if is_file_spec(spec):
        return "file", [Snapshot.load(spec)]
    assert store is not None, spec
    return "label", store.load_label(spec)
