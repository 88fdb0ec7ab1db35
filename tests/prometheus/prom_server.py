"""A real Prometheus for the tests and the bench: Debian's ``prometheus`` and ``promtool``.

History is OpenMetrics text loaded with ``promtool tsdb create-blocks-from openmetrics`` into
the data directory before the server starts (timestamps in the past, so windows are fixed).
The server listens on a free loopback port, scrapes nothing unless given scrape targets,
and is ready when ``/-/ready`` answers 200 (polled until a bounded deadline).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Sequence

READY_DEADLINE_S = 60.0


def binaries() -> tuple[str, str]:
    """(prometheus, promtool); FileNotFoundError naming the package when missing."""
    prometheus, promtool = shutil.which("prometheus"), shutil.which("promtool")
    if not prometheus or not promtool:
        raise FileNotFoundError("prometheus/promtool not installed (apt-get install prometheus)")
    return prometheus, promtool


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen | None = None, deadline_s: float = READY_DEADLINE_S) -> None:
    """Poll ``url`` until it answers 200; RuntimeError when the process died or time ran out."""
    until = time.monotonic() + deadline_s
    while time.monotonic() < until:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)  # a poll interval, not synchronisation: readiness is what is waited on
    raise RuntimeError(f"{url} not ready within {deadline_s:g}s")


def load_history(openmetrics: str, data_dir: str) -> None:
    """Backfill ``data_dir`` from OpenMetrics text (must end with ``# EOF``)."""
    _, promtool = binaries()
    with tempfile.NamedTemporaryFile("w", suffix=".om", delete=False) as fh:
        fh.write(openmetrics)
        path = fh.name
    try:
        subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", path, data_dir],
                       check=True, capture_output=True, timeout=300)
    finally:
        os.unlink(path)


@dataclass
class PrometheusServer:
    process: subprocess.Popen
    root: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


def start(openmetrics: str | None = None, *, scrape: Sequence[str] = (), scrape_interval: str = "1s") -> PrometheusServer:
    """A Prometheus holding ``openmetrics`` history, scraping ``scrape`` (host:port, loopback)."""
    prometheus, _ = binaries()
    root = tempfile.mkdtemp(prefix="triage-prometheus-")
    data = os.path.join(root, "data")
    os.makedirs(data)
    try:
        if openmetrics is not None:
            load_history(openmetrics, data)
        config = os.path.join(root, "prometheus.yml")
        with open(config, "w") as fh:
            fh.write(f"global: {{scrape_interval: {scrape_interval}, evaluation_interval: 1m}}\n")
            if scrape:
                fh.write("scrape_configs:\n  - job_name: node\n    static_configs:\n"
                         f"      - targets: [{', '.join(repr(t) for t in scrape)}]\n")
        port = free_port()
        log = open(os.path.join(root, "prometheus.log"), "w")
        process = subprocess.Popen(
            [prometheus, f"--config.file={config}", f"--storage.tsdb.path={data}",
             f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=100y",
             "--web.max-connections=64"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        server = PrometheusServer(process, root, port)
        try:
            wait_ready(f"{server.url}/-/ready", process)
        except BaseException:
            server.stop()
            raise
        return server
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
