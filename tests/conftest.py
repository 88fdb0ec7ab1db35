"""Fixtures every test folder shares: the in-process CLI, and the session's PostgreSQL
(tests/database/pg_server.py), started once for every suite that asks for it (database,
hardening) and stopped at the end."""

from __future__ import annotations

import os

import pytest

from tests.cli_runner import InProcessTriage
from tests.database import pg_server


@pytest.fixture
def triage(tmp_path) -> InProcessTriage:
    """The `triage` CLI run in-process (tests/cli_runner.py), in tmp_path unless told a cwd."""
    return InProcessTriage(str(tmp_path))


@pytest.fixture(scope="session")
def postgres():
    try:
        server = pg_server.start()
    except FileNotFoundError as exc:
        # Never a silent skip in CI: .ci/run installs PostgreSQL, so missing binaries are a failure.
        if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        pg_server.stop(server)
