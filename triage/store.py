"""The baseline store: snapshots kept per label, every change a git commit.

Layout: ``<store>/<label>/<run-id>.json`` where run-id is ``<taken_at>-<host>`` made
filesystem-safe. A label keeps several runs; compare pools them. Writes are atomic and
serialised by an exclusive lock on the store directory. Only the store's own files are
ever committed, even when the store sits inside a larger repository.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from dataclasses import dataclass
from typing import Iterator

from .errors import BadInput, StoreError
from .fileio import atomic_write_text
from .model import Snapshot

DEFAULT_STORE = "baselines"
STORE_ENV = "TRIAGE_STORE"
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


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
        directory = self._label_dir(label)
        return [StoredRun(label, name[:-5], os.path.join(directory, name))
                for name in sorted(os.listdir(directory), key=lambda n: n[:-5])
                if name.endswith(".json") and not name.startswith(".")]

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
        run_id = _UNSAFE.sub("_", f"{snapshot.taken_at}-{snapshot.host}").strip("_") or "run"
        with self._locked():
            directory = os.path.join(self.root, label)
            os.makedirs(directory, exist_ok=True)
            path = os.path.join(directory, f"{run_id}.json")
            n = 1
            while os.path.exists(path):
                n += 1
                path = os.path.join(directory, f"{run_id}-{n}.json")
            atomic_write_text(path, snapshot.to_json())
            self._commit([path], f"triage: save {label} run {os.path.basename(path)[:-5]}")
        return StoredRun(label, os.path.basename(path)[:-5], path)

    def remove(self, label: str) -> int:
        runs = self.runs(label)
        with self._locked():
            for run in runs:
                os.unlink(run.path)
            with contextlib.suppress(OSError):
                os.rmdir(os.path.join(self.root, label))
            self._commit([r.path for r in runs], f"triage: remove {label} ({len(runs)} runs)")
        return len(runs)

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
        with open(os.path.join(self.root, ".gitignore"), "w") as fh:
            fh.write(".triage-*.tmp\n")
        return repo

    def _commit(self, paths: list[str], message: str) -> None:
        repo = self._repo(create=True)
        ignore = os.path.join(self.root, ".gitignore")
        if os.path.exists(ignore) and not repo.git.ls_files("--", ignore):
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
        # Deleted paths go in only if git knew them (one ls-files call, not one per run).
        to_commit = present + (repo.git.ls_files("--", *gone).splitlines() if gone else [])
        env = {}
        reader = repo.config_reader()
        # Use the user's identity when git has one; a bare CI box has none, so fall back.
        if not reader.get_value("user", "name", "") and "GIT_AUTHOR_NAME" not in os.environ:
            env.update(GIT_AUTHOR_NAME="triage", GIT_COMMITTER_NAME="triage")
        if not reader.get_value("user", "email", "") and "GIT_AUTHOR_EMAIL" not in os.environ:
            env.update(GIT_AUTHOR_EMAIL="triage@localhost", GIT_COMMITTER_EMAIL="triage@localhost")
        if to_commit:
            repo.git.commit("--quiet", "--no-verify", "-m", message, "--", *to_commit, env=env)

def is_file_spec(spec: str) -> bool:
    """A comparison side names a snapshot file (an existing path, or anything that looks like
    one) rather than a stored label; labels never hold a "/" or end in ".json"."""
    return os.path.isfile(spec) or spec.endswith(".json") or os.sep in spec


def load_side(spec: str, store: SnapshotStore) -> tuple[str, list[Snapshot]]:
    """A comparison side and where it came from: ("file", [snapshot]) or ("label", its runs)."""
    if is_file_spec(spec):
        return "file", [Snapshot.load(spec)]
    return "label", store.load_label(spec)
