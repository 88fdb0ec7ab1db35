"""A total deadline for one HTTP request through ``requests``: connect, headers and body.

requests' ``timeout`` bounds each socket operation, not the request: a server trickling its
body a byte every few seconds kept a ``timeout: 5`` request going for 121 s (issue 16). Here
a timer armed for the request shuts its socket down when the deadline passes, which wakes the
blocked read at once; the request then fails as a timeout. The socket is found through
connection classes that note it on the requesting thread (``_note``); they are mounted on the
session once (``deadline`` does it), so keep-alive reuse works as before. ``request_within``
reads a whole answer; ``deadline`` bounds a block that streams one (the Prometheus client
reads its body in chunks, to cap its size).

``requests`` and ``urllib3`` are imported inside functions: they are heavy, and the CLI's
``--help`` must stay fast.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import threading
from typing import Any, Iterator

_WATCHES: dict[int, "_Watch"] = {}  # requesting thread -> its request's watch
_WATCHES_LOCK = threading.Lock()


class _Watch:
    """One request's deadline: fires once, shutting down the socket the request uses."""

    def __init__(self, total_s: float):
        self.total_s = total_s
        self.fired = False
        self.fd: int | None = None
        self.lock = threading.Lock()
        self.timer = threading.Timer(total_s, self._fire)
        self.timer.daemon = True

    def __enter__(self) -> "_Watch":
        with _WATCHES_LOCK:
            _WATCHES[threading.get_ident()] = self
        self.timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.timer.cancel()
        with self.lock:
            self.fd = None  # the request is over: its fd may be closed and reused from now on
        with _WATCHES_LOCK:
            _WATCHES.pop(threading.get_ident(), None)

    def note(self, fd: int) -> None:
        with self.lock:
            self.fd = fd
            if self.fired:
                _shutdown(fd)

    def _fire(self) -> None:
        with self.lock:
            self.fired = True
            if self.fd is not None:
                _shutdown(self.fd)


def _shutdown(fd: int) -> None:
    """Shut the socket down through a duplicate of its fd: works the same under TLS, and the
    owner's socket object stays untouched (it sees a dead connection and raises)."""
    try:
        dup = socket.socket(fileno=os.dup(fd))
    except OSError:
        return
    try:
        dup.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        dup.close()


def _note(sock: Any) -> None:
    watch = _WATCHES.get(threading.get_ident())
    if watch is not None and sock is not None and sock.fileno() >= 0:
        watch.note(sock.fileno())


@functools.lru_cache(maxsize=1)
def _adapter_class() -> type:
    import requests
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    class Noting:
        """Notes the socket when it is created (before TLS wraps it: the fd stays the same)
        and when a request starts on a kept-alive connection."""

        def _new_conn(self):  # type: ignore[no-untyped-def]
            sock = super()._new_conn()  # type: ignore[misc]
            _note(sock)
            return sock

        def request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            _note(self.sock)  # type: ignore[attr-defined]
            return super().request(*args, **kwargs)  # type: ignore[misc]

    class Conn(Noting, HTTPConnection):
        pass

    class TLSConn(Noting, HTTPSConnection):
        pass

    class Pool(HTTPConnectionPool):
        ConnectionCls = Conn

    class TLSPool(HTTPSConnectionPool):
        ConnectionCls = TLSConn

    class DeadlineAdapter(requests.adapters.HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": Pool, "https": TLSPool}

    return DeadlineAdapter


@contextlib.contextmanager
def deadline(session: Any, url: str, total_s: float) -> Iterator[None]:
    """Everything inside, requests to ``url`` on ``session`` and reading their bodies (a
    streamed one too), within ``total_s`` seconds; past it, ``requests.exceptions.ReadTimeout``."""
    import requests

    adapter_class = _adapter_class()
    if not isinstance(session.get_adapter(url), adapter_class):
        adapter = adapter_class()
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    with _Watch(total_s) as watch:
        try:
            yield
        except requests.RequestException:
            if watch.fired:
                raise requests.exceptions.ReadTimeout(
                    f"no complete answer within {total_s:g}s (the request's total deadline)") from None
            raise


def request_within(session: Any, method: str, url: str, total_s: float, **kwargs: Any) -> Any:
    """``session.request(...)`` with its body read, all within ``total_s`` seconds; past it,
    ``requests.exceptions.ReadTimeout``. ``total_s`` also bounds each socket operation."""
    with deadline(session, url, total_s):
        response = session.request(method, url, timeout=total_s, **kwargs)
        response.content  # noqa: B018 - the body is read inside the deadline
    return response
