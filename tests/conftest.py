"""Fixtures every test folder shares."""

from __future__ import annotations

import pytest

from tests.cli_runner import InProcessTriage


@pytest.fixture
def triage(tmp_path) -> InProcessTriage:
    """The `triage` CLI run in-process (tests/cli_runner.py), in tmp_path unless told a cwd."""
    return InProcessTriage(str(tmp_path))
