"""Shared pieces of the hardening tests: the CLI run in-process (so the many downstream
commands of one test cost no interpreter start each), and where a secret could end up after
a probe: the snapshot, every report format, stderr, the store's git objects."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.cli_runner import InProcessTriage


def inproc(*args: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``triage ARGS`` in-process (tests/cli_runner.py); what
    it wrote must be writable as UTF-8, as it would have to be on a real pipe or terminal."""
    done = InProcessTriage(os.getcwd())(*args)
    done.stdout.encode("utf-8"), done.stderr.encode("utf-8")  # a lone surrogate fails here
    return done.code, done.stdout, done.stderr


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
