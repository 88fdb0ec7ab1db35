"""The session's PostgreSQL (tests/database/pg_server.py): started once for every suite that
asks for it (database, hardening), stopped at the end."""

import os

import pytest

from tests.database import pg_server


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
