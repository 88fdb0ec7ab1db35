"""One baseline store for many CI runners: ``--store`` (or $TRIAGE_STORE) naming a git remote,
``https://…``, ``ssh://…``, ``git@host:path`` or ``file://…``.

triage keeps a clone of it in its cache directory, ``$XDG_CACHE_HOME/triage/stores/<name>``
(``~/.cache`` without it), ``<name>`` made of the URL without its credentials and a hash of
it. The clone is an ordinary SnapshotStore — journaled all-or-nothing saves, rollback of a
killed writer, stale ``index.lock`` recovery — with the remote's work around it:

- Opening fetches, then replays the clone's own unpushed commits (a run an earlier push could
  not deliver) on the remote's branch (``git rebase``), so reads see every runner's runs.
- A save (or remove) commits, then pushes. A push refused as not a fast-forward (another
  runner pushed first) fetches, rebases and pushes again, at most PUSH_ATTEMPTS times. Runs
  are separate files whose names carry a hash of their content, so two runners' saves never
  touch one file and the rebase never conflicts.
- A push that still fails leaves the run committed in the clone and raises StoreError (exit 2)
  naming the remote and git's reason; the next save (or remove) pushes it along.
- Credentials come from git's own helpers (credential.helper, ssh-agent, ~/.netrc); triage
  holds none. The URL is shown masked (triage.secrets.mask_url), git's stderr masked too.
- Every network call has limits: GIT_HTTP_LOW_SPEED_LIMIT/TIME (an http transfer under
  1,000 bytes/s for 30 s is abandoned), ssh in batch mode with a connect timeout (unless the
  user set their own ssh command), GIT_TERMINAL_PROMPT=0 (never wait for a password), and a
  subprocess timeout, $TRIAGE_GIT_TIMEOUT (default 120 s), that kills git's process group.
- Processes sharing one clone (two jobs on one runner) are serialised by an exclusive flock on
  ``<name>.lock`` beside it; reads take it shared, so none sees the tree mid-rebase. A clone is
  made in a temporary directory and renamed into place: a killed clone leaves nothing half made.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import os
import random
import re
import shutil
import signal
import subprocess
import time
from typing import Iterator

from .errors import BadInput, StoreError
from .model import Snapshot
from .secrets import mask_secrets, mask_url, url_secrets
from .store import HistoryEntry, SnapshotStore, StoredRun, _run_id, identity_env, resolve_store_path, write_gitignore

SCHEMES = ("https://", "ssh://", "file://")
_SCP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]*@[A-Za-z0-9][A-Za-z0-9.-]*:(?!//)")  # git@host:path
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
NAME_MAX = 60  # of the URL's words in the clone's name; a 12-digit hash of the whole URL follows
TIMEOUT_ENV = "TRIAGE_GIT_TIMEOUT"
# A fetch or push of a few runs takes seconds; two minutes is a hung remote. A first clone of a
# years-old store over a slow link may need more: raise $TRIAGE_GIT_TIMEOUT.
DEFAULT_TIMEOUT_S = 120.0
LOCAL_TIMEOUT_S = 120.0  # rebase, reset: local, yet bounded like everything else
# 1,000 bytes/s for 30 s: git's own knobs for an http transfer that has stalled (curl's low-speed limit).
LOW_SPEED = {"GIT_HTTP_LOW_SPEED_LIMIT": "1000", "GIT_HTTP_LOW_SPEED_TIME": "30"}
SSH_COMMAND = "ssh -o BatchMode=yes -o ConnectTimeout=15"
# Every rejected push means another runner's push landed meanwhile: with N runners saving at
# once, N - 1 retries suffice; 8 attempts cover 8 runners saving in the same second.
PUSH_ATTEMPTS = 8
BACKOFF_S = 0.2  # times the attempt, jittered: runners retrying in lockstep would collide again
_FOREIGN_GIT_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY")


def is_remote(spec: str) -> bool:
    """Does ``spec`` name a git remote rather than a directory? Another ``scheme://`` is refused."""
    if spec.startswith(SCHEMES) or _SCP.match(spec):
        return True
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", spec):
        raise BadInput(f"--store {mask_url(spec)}: expected a directory or a git URL (https://, ssh://, "
                       "git@host:path, file://)")
    return False


def open_store(option: str | None) -> SnapshotStore:
    """--store, else $TRIAGE_STORE, else ./baselines: a directory, or a git remote fetched now."""
    spec = resolve_store_path(option)
    return RemoteStore(spec).sync() if is_remote(spec) else SnapshotStore(spec)


def cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "triage", "stores")


def _without_userinfo(url: str) -> str:
    if _SCP.match(url):
        return url.partition("@")[2]
    scheme, _, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    return f"{scheme}://{netloc.rpartition('@')[2]}{slash}{path}"


def clone_name(url: str) -> str:
    """A directory name for the clone of ``url``: its words without credentials, and a hash."""
    bare = _without_userinfo(url)
    words = _UNSAFE.sub("_", re.sub(r"^[a-z]+://", "", bare)).strip("_.-")[:NAME_MAX] or "store"
    return f"{words}-{hashlib.sha256(bare.encode()).hexdigest()[:12]}"


def git_timeout() -> float:
    text = os.environ.get(TIMEOUT_ENV, "")
    try:
        value = float(text) if text else DEFAULT_TIMEOUT_S
    except ValueError:
        value = -1.0
    if not 0 < value <= 86400:
        raise BadInput(f"${TIMEOUT_ENV}: expected seconds between 0 and 86400, got {text!r}")
    return value


class RemoteStore(SnapshotStore):
    """The store in the cache's clone of ``url``; ``sync()`` before reading (open_store does)."""

    def __init__(self, url: str, cache: str | None = None):
        super().__init__(os.path.join(cache or cache_dir(), clone_name(url)))
        self.url = url
        self.shown = mask_url(url)
        self._secrets = frozenset(url_secrets(url))
        self._lock_path = self.root + ".lock"
        self._depth = 0  # lock held by this object (a read inside a write must not wait on itself)

    # --- reading, under a shared lock ---------------------------------------------------------

    def labels(self) -> list[str]:
        with self._locked(fcntl.LOCK_SH):
            return super().labels()

    def runs(self, label: str) -> list[StoredRun]:
        with self._locked(fcntl.LOCK_SH):
            return super().runs(label)

    def load_label(self, label: str) -> list[Snapshot]:
        with self._locked(fcntl.LOCK_SH):
            return super().load_label(label)

    def history(self, label: str) -> list[HistoryEntry]:
        with self._locked(fcntl.LOCK_SH):
            return super().history(label)

    # --- the remote ------------------------------------------------------------------------------

    def sync(self) -> "RemoteStore":
        """Clone (the first time) or fetch, and replay unpushed local commits on the remote's branch."""
        with self._locked():
            if not os.path.exists(self.root):
                self._clone()
            elif not os.path.isdir(os.path.join(self.root, ".git")):
                raise StoreError(f"{self.root}: exists but is not triage's clone of {self.shown}; remove it")
            else:
                self._git("remote", "set-url", "origin", self.url)  # the URL given now (a rotated token)
            if os.path.isdir(os.path.join(self.root, ".git", "rebase-merge")) or \
                    os.path.isdir(os.path.join(self.root, ".git", "rebase-apply")):
                self._git("rebase", "--abort", check=False)  # a killed rebase: back to the commits we had
            self._recover(self._repo(create=False))
            self._fetch_and_rebase()
            if not os.path.exists(os.path.join(self.root, ".gitignore")):
                write_gitignore(self.root)  # an empty remote's first save commits it (SnapshotStore._commit)
        return self

    def _clone(self) -> None:
        for stale in glob.glob(glob.escape(self.root) + ".clone-*"):  # a killed clone's, under the lock
            shutil.rmtree(stale, ignore_errors=True)
        partial = f"{self.root}.clone-{os.getpid()}"
        try:
            self._git("clone", "--quiet", "--", self.url, partial, network=True, cwd=os.path.dirname(self.root))
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        os.rename(partial, self.root)

    def _branch(self) -> str:
        return self._git("symbolic-ref", "--short", "HEAD").stdout.strip()

    def _has(self, ref: str) -> bool:
        return self._git("rev-parse", "--verify", "--quiet", ref, check=False).returncode == 0

    def _fetch_and_rebase(self) -> None:
        self._git("fetch", "--quiet", "--prune", "origin", network=True)
        upstream = f"refs/remotes/origin/{self._branch()}"
        if not self._has(upstream):
            return  # an empty remote: nothing to replay on
        if not self._has("HEAD"):
            self._git("reset", "--quiet", "--hard", upstream)  # a clone of the then empty remote
            return
        rebased = self._git("rebase", "--quiet", upstream, check=False, env=identity_env(self._repo(create=False)))
        if rebased.returncode:
            self._git("rebase", "--abort", check=False)
            raise StoreError(f"store {self.shown}: the runs committed in {self.root} could not be replayed on the "
                             f"remote's: {_reason(rebased)}")

    def _run_name(self, snapshot: Snapshot, text: str) -> str:
        # Two runners saving at the same second under one host name must not write one file.
        return f"{_run_id(snapshot)}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"

    def _published(self, repo) -> None:
        """Push what was just committed; refused because another runner pushed first, fetch,
        rebase and push again."""
        reason = ""
        for attempt in range(1, PUSH_ATTEMPTS + 1):
            pushed = self._git("push", "--porcelain", "origin", f"HEAD:refs/heads/{self._branch()}", network=True,
                               check=False)
            if pushed.returncode == 0:
                return
            reason = _reason(pushed)
            if not _retryable(pushed) or attempt == PUSH_ATTEMPTS:
                break
            time.sleep(BACKOFF_S * attempt * random.uniform(0.5, 1.5))
            try:
                self._fetch_and_rebase()
            except StoreError as exc:
                reason = str(exc).partition(": ")[2]
                break
        raise StoreError(f"store {self.shown}: not pushed ({reason}); the run is committed in {self.root} and the "
                         "next save pushes it")

    # --- git, bounded and masked ------------------------------------------------------------------

    def _git(self, *args: str, network: bool = False, check: bool = True, cwd: str | None = None,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """git ``args`` in the clone: killed with its children past the timeout; output masked.
        A failure raises StoreError (unless ``check`` is False) naming the remote and git's reason."""
        full = {k: v for k, v in os.environ.items() if k not in _FOREIGN_GIT_ENV}
        full["GIT_TERMINAL_PROMPT"] = "0"
        full.setdefault("GCM_INTERACTIVE", "never")
        if network:
            for key, value in LOW_SPEED.items():
                full.setdefault(key, value)
            if not (full.get("GIT_SSH_COMMAND") or full.get("GIT_SSH")) and not self._ssh_configured(cwd):
                full["GIT_SSH_COMMAND"] = SSH_COMMAND
        full.update(env or {})
        limit = git_timeout() if network else LOCAL_TIMEOUT_S
        proc = subprocess.Popen(["git", *args], cwd=cwd or self.root, env=full, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
                                start_new_session=True)  # its own group: a timeout kills ssh and helpers too
        try:
            out, err = proc.communicate(timeout=limit)
        except BaseException as exc:  # the timeout, or Ctrl-C (git has its own session: it did not get it)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            if isinstance(exc, subprocess.TimeoutExpired):
                raise StoreError(f"store {self.shown}: git {args[0]} did not finish in {limit:g} s "
                                 f"(${TIMEOUT_ENV})") from None
            raise
        done = subprocess.CompletedProcess(args, proc.returncode, self._mask(out), self._mask(err))
        if check and done.returncode:
            raise StoreError(f"store {self.shown}: git {args[0]} failed: {_reason(done)}")
        return done

    def _ssh_configured(self, cwd: str | None) -> bool:
        """core.sshCommand in the user's git config: theirs wins over triage's batch-mode default."""
        where = cwd or self.root
        probe = subprocess.run(["git", "config", "--get", "core.sshCommand"], cwd=where if os.path.isdir(where)
                               else None, capture_output=True, text=True, timeout=LOCAL_TIMEOUT_S)
        return bool(probe.stdout.strip())

    def _mask(self, text: str) -> str:
        return mask_secrets(text.replace(self.url, self.shown), self._secrets)

    @contextlib.contextmanager
    def _locked(self, mode: int = fcntl.LOCK_EX) -> Iterator[None]:
        """An flock on ``<clone>.lock`` (the clone itself may not exist yet): exclusive for
        writers and the sync, shared for readers; already held by this object, held again."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        os.makedirs(os.path.dirname(self.root), exist_ok=True)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, mode)
            self._depth = 1
            try:
                yield
            finally:
                self._depth = 0
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def _retryable(pushed: subprocess.CompletedProcess) -> bool:
    """Refused because another runner got there first: not a fast-forward ('[rejected]' in git
    push --porcelain), or the remote's ref locked by another push in flight ('[remote rejected]
    (failed to update ref)', 'cannot lock ref'). A hook that declines is not retried."""
    refused = [line for line in pushed.stdout.splitlines() if line.startswith("!")]
    return any("[rejected]" in line or ("[remote rejected]" in line and ("failed to update ref" in line or
                                                                           "cannot lock ref" in line))
               for line in refused)


def _reason(done: subprocess.CompletedProcess) -> str:
    """git's own words: a refused ref's status from --porcelain, else its last error line."""
    for line in done.stdout.splitlines():
        if line.startswith("!"):
            return line.split("\t")[-1].strip()
    lines = [x.strip() for x in done.stderr.splitlines() if x.strip()]
    errors = [x for x in lines if x.startswith(("fatal:", "error:"))]
    return (errors or lines or [f"exit status {done.returncode}"])[-1]
