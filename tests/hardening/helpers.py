"""Shared pieces of the hardening tests: the CLI run in-process (its own entry point, so the
many downstream commands of one test cost no interpreter start each), and where a secret
could end up after a probe: the snapshot, every report format, stderr, the store's git objects."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
from pathlib import Path

from triage.cli import main


def inproc(*args: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``triage ARGS`` run through its real entry point, its
    streams strict UTF-8 as a pipe's are (text that cannot be written fails here too)."""
    out, err = (io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True) for _ in range(2))
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
            status = 0
        except SystemExit as exc:
            status = int(exc.code or 0)
    return status, out.buffer.getvalue().decode(), err.buffer.getvalue().decode()


def git_objects(repo: Path) -> str:
    """Every object in the repository's database, as text: history included."""
    done = subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch"], cwd=repo,
                          capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.decode("utf-8", "replace")


def everywhere_downstream(tmp_path: Path, snapshot: Path) -> dict[str, str]:
    """What a snapshot turns into: stored (git objects), compared and reported in every format."""
    store = tmp_path / "store"
    texts: dict[str, str] = {"snapshot": snapshot.read_text()}
    status, out, err = inproc("baseline", "save", "before", str(snapshot), "--store", str(store))
    assert status == 0, err
    texts["save"] = out + err
    for fmt in ("markdown", "json", "junit"):
        status, out, err = inproc("report", "before", str(snapshot), "--store", str(store), "--format", fmt)
        assert status in (0, 3, 4), err
        texts[f"report {fmt}"] = out + err
    status, out, err = inproc("compare", "before", str(snapshot), "--store", str(store), "--format", "json")
    texts["compare json"] = out + err
    status, out, err = inproc("baseline", "show", "before", "--store", str(store))
    texts["baseline show"] = out + err
    texts["git objects"] = git_objects(store)
    return texts


def assert_nowhere(secrets: list[str], texts: dict[str, str]) -> None:
    leaks = [(secret, where) for secret in secrets for where, text in texts.items() if secret in text]
    assert not leaks, leaks


def env_without(*prefixes: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.update(CI="true", **extra)
    return env
