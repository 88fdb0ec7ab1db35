from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Callable, Iterator

import pytest

from .kubeapi_server import ClusterState, KubeApiServer
from .kube_states import write_kubeconfig



@pytest.fixture
def kube_server() -> Iterator[Callable[..., KubeApiServer]]:
    """serve(state, tls=None) -> a running KubeApiServer, stopped after the test."""
    servers: list[KubeApiServer] = []

    def serve(state: ClusterState, tls: tuple[str, str] | None = None) -> KubeApiServer:
        server = KubeApiServer(state, tls=tls).__enter__()
        servers.append(server)
        return server

    yield serve
    for server in servers:
        server.__exit__()


@pytest.fixture
def kubeconfig(tmp_path: Path) -> Callable[..., Path]:
    """kubeconfig(server, **kw) -> path of a kubeconfig file pointing at the server."""
    counter = iter(range(1000))

    def write(server: KubeApiServer, **kw) -> Path:
        return write_kubeconfig(tmp_path / f"kubeconfig-{next(counter)}", server.url, **kw)

    return write


@pytest.fixture(scope="session")
def self_signed_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(certfile, keyfile) of a self-signed certificate for 127.0.0.1, made by openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "server.crt", directory / "server.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return str(cert), str(key)
