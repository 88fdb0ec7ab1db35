"""Fixtures for the compare tests: the stored hand-made snapshots (tests/fixtures/compare,
written by make_fixtures.py beside them) and a runner for the real `triage` CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest

FIXTURES = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "fixtures", "compare"))


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@pytest.fixture
def fixture_path():
    def path(name: str) -> str:
        full = os.path.join(FIXTURES, name)
        assert os.path.exists(full), full
        return full
    return path


@pytest.fixture
def run_triage(tmp_path):
    """Run `python -m triage ARGS` in a fresh process, as a user or CI would."""
    def run(*args: str, env: dict[str, str] | None = None, cwd: str | None = None) -> CliResult:
        full_env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TRIAGE_STORE", "TRIAGE_DEBUG")}
        full_env.update(env or {})
        proc = subprocess.run([sys.executable, "-m", "triage", *args], capture_output=True, text=True,
                              env=full_env, cwd=cwd or str(tmp_path), timeout=120)
        return CliResult(proc.returncode, proc.stdout, proc.stderr)
    return run


@pytest.fixture
def snapshot_dict(fixture_path):
    """A fresh, mutable copy of a stored fixture snapshot."""
    def load(name: str) -> dict:
        with open(fixture_path(name), encoding="utf-8") as fh:
            return json.load(fh)
    return load
