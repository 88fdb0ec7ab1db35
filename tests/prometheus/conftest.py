"""The session's Prometheus holding the recorded history (history.py), and helpers."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Callable, Iterator

import pytest

from . import history, prom_server

NOW = dt.datetime(2020, 6, 1, tzinfo=dt.timezone.utc)  # "now" for windows: after the recorded days


def _missing(exc: Exception) -> None:
    # Never a silent skip in CI: .ci/run installs prometheus, so a missing binary is a failure.
    if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
        pytest.fail(str(exc))
    pytest.skip(str(exc))


@pytest.fixture(scope="session")
def recorded() -> Iterator[prom_server.PrometheusServer]:
    """A real Prometheus on loopback with both recorded days loaded."""
    try:
        prom_server.binaries()
    except FileNotFoundError as exc:
        _missing(exc)
    server = prom_server.start(history.openmetrics([history.day1(), history.day2()]))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def prom_config(tmp_path: Path) -> Callable[..., Path]:
    """prom_config(url, extra_yaml="", queries=True) -> a triage.yaml reading that Prometheus."""
    def write(url: str, extra: str = "", queries: bool = True, kubeconfig: Path | None = None) -> Path:
        text = f"prometheus:\n  url: {url}\n  block: 5m\n  timeout: 10\n{extra}"
        if queries:
            text += "  queries:\n" + history.APP_QUERIES
        if kubeconfig is not None:
            text += f"kubernetes:\n  kubeconfig: {kubeconfig}\n  timeout: 5\n"
        path = tmp_path / "triage.yaml"
        path.write_text(text)
        return path

    return write
