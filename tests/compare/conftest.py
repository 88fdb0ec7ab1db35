"""Fixtures for the compare tests: the stored hand-made snapshots (tests/fixtures/compare,
written by make_fixtures.py beside them) and a runner for the real `triage` CLI."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import pytest

from tests import cli_runner

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
        proc = cli_runner.run_triage(*args, env=env, cwd=cwd or str(tmp_path),
                                     drop=("NO_COLOR", "TRIAGE_STORE", "TRIAGE_DEBUG"))
        return CliResult(proc.returncode, proc.stdout, proc.stderr)
    return run


@pytest.fixture
def snapshot_dict(fixture_path):
    """A fresh, mutable copy of a stored fixture snapshot."""
    def load(name: str) -> dict:
        with open(fixture_path(name), encoding="utf-8") as fh:
            return json.load(fh)
    return load
