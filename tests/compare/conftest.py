"""Fixtures for the compare tests: the stored hand-made snapshots (tests/fixtures/compare,
written by make_fixtures.py beside them) and the `triage` CLI run in-process."""

from __future__ import annotations

import json
import os

import pytest

from tests.cli_runner import CliResult, InProcessTriage

FIXTURES = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "fixtures", "compare"))


@pytest.fixture
def fixture_path():
    def path(name: str) -> str:
        full = os.path.join(FIXTURES, name)
        assert os.path.exists(full), full
        return full
    return path


@pytest.fixture
def run_triage(tmp_path):
    """`triage ARGS` in-process in tmp_path, free of the caller's NO_COLOR, TRIAGE_STORE, TRIAGE_DEBUG."""
    triage = InProcessTriage(str(tmp_path))

    def run(*args: str, env: dict[str, str] | None = None, cwd: str | None = None) -> CliResult:
        return triage(*args, env=env, cwd=cwd, drop=("NO_COLOR", "TRIAGE_STORE", "TRIAGE_DEBUG"))
    return run


@pytest.fixture
def snapshot_dict(fixture_path):
    """A fresh, mutable copy of a stored fixture snapshot."""
    def load(name: str) -> dict:
        with open(fixture_path(name), encoding="utf-8") as fh:
            return json.load(fh)
    return load
