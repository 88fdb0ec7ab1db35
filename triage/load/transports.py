"""One request of each layer's ramp, on the client each layer's probe measures with.

- app: a ``requests.Session`` built as the app probe builds it (no proxies or .netrc from the
  environment, the target's headers and trust), redirects not followed, the body read; an
  answer outside ``expect_status`` is an error.
- dns: triage.dns_client's ``WireClient`` (the one DNS client), one query per request, the
  names and qtypes in turn; a cache-miss ramp asks ``<12 random hex>.<name>``. Timeouts,
  SERVFAIL, REFUSED and socket errors are errors; NXDOMAIN is an answer (a random label
  under a real zone is NXDOMAIN after a full recursion: exactly the work a cache-miss ramp asks for).
- database: the database probe's own connection (statement_timeout set, application_name
  triage), the critical query read-only in a transaction that is rolled back.

Heavy libraries (requests, dnspython, psycopg) are imported when a ramp is built.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Any, Sequence

from triage.config import Query, Target
from triage.dns_client import NOERROR, NXDOMAIN, REFUSED, SERVFAIL, QueryTemplate, WireClient

from .schedule import ConnectFailed


class HttpTransport:
    def __init__(self, target: Target, timeout_s: float):
        import requests

        from triage.probes.app import failure_kind, session_for

        self.requests, self.failure_kind, self.session_for = requests, failure_kind, session_for
        self.target = target
        self.timeout_s = min(timeout_s, target.timeout_s)
        if target.verify is False:
            # The config said so; a warning per request would only flood stderr. The filter is
            # process-wide: set once for the run, not per request (catch_warnings is not thread-safe).
            from urllib3.exceptions import InsecureRequestWarning

            warnings.simplefilter("ignore", InsecureRequestWarning)

    def connect(self) -> tuple[Any, Any]:
        session = self.session_for(self.target, self.requests)
        # Prepared once per session and sent again: what Session.request() does per call
        # minus rebuilding and merging the same request (1.15 -> 0.76 ms of CPU a request here).
        return session, session.prepare_request(self.requests.Request(self.target.method, self.target.url))

    def call(self, conn: tuple[Any, Any]) -> str | None:
        session, prepared = conn
        try:
            response = session.send(prepared, timeout=self.timeout_s, allow_redirects=False)
            response.content
        except self.requests.RequestException as exc:
            return self.failure_kind(exc, self.requests)
        return None if response.status_code in self.target.expect_status else f"status {response.status_code}"

    def close(self, conn: tuple[Any, Any]) -> None:
        conn[0].close()


class _DnsConn:
    """A connected UDP socket and its own query templates (patched in place: one per thread)."""

    def __init__(self, client: WireClient, templates: Sequence[QueryTemplate]):
        self.client, self.templates, self.turn = client, templates, itertools.cycle(range(len(templates)))


class DnsTransport:
    def __init__(self, host: str, port: int, names: Sequence[str], qtypes: Sequence[str], cache_miss: bool,
                 timeout_s: float):
        self.host, self.port, self.timeout_s = host, port, timeout_s
        # Built once (dnspython's import and make_query are far slower than a query); each
        # connection patches copies of its own.
        self.templates = [QueryTemplate(n, q, cache_miss) for n in names for q in qtypes]

    def connect(self) -> _DnsConn:
        client = WireClient(self.host, self.port, self.timeout_s, rcvtimeo=False)
        return _DnsConn(client, [t.copy() for t in self.templates])

    def call(self, conn: _DnsConn) -> str | None:
        template = conn.templates[next(conn.turn)]
        reply = conn.client.exchange([bytes(template.next(0))])[0]  # exchange sets its own id
        if reply.error:
            return "socket error"
        if reply.timed_out:
            return "timeout"
        if reply.rcode in (NOERROR, NXDOMAIN):
            return None
        return {SERVFAIL: "SERVFAIL", REFUSED: "REFUSED"}.get(reply.rcode, f"rcode {reply.rcode}")

    def close(self, conn: _DnsConn) -> None:
        conn.client.close()


class PgTransport:
    def __init__(self, target: Target, query: Query, timeout_s: float):
        import psycopg

        from triage.probes.pg_connect import Attempts, open_connection

        self.psycopg, self.attempts, self.open_connection = psycopg, Attempts, open_connection
        self.target, self.query = target, query
        self.timeout_s = timeout_s

    def connect(self) -> Any:
        attempts = self.attempts(self.target)
        # libpq's connect_timeout: whole seconds, at least 2 (pg_connect.connect_kwargs rounds it).
        conn = self.open_connection(self.target, self.timeout_s, attempts)
        if conn is None:  # refused for capacity: "too many clients" is what a storm looks like
            raise ConnectFailed(attempts.refusals() or "refused")
        conn.prepare_threshold = None  # never a server-side prepared statement, as the query probe
        conn.execute(f"SET statement_timeout = {max(1, int(self.timeout_s * 1000))}")
        return conn

    def call(self, conn: Any) -> str | None:
        psycopg = self.psycopg
        try:
            with conn.cursor() as cur:
                cur.execute("BEGIN READ ONLY")
                try:
                    cur.execute(self.query.sql)
                    if cur.description is not None:
                        cur.fetchall()
                finally:
                    cur.execute("ROLLBACK")
        except psycopg.errors.QueryCanceled:
            return "timeout"
        except psycopg.OperationalError:
            return "connection"
        except psycopg.Error as exc:
            return type(exc).__name__
        return None

    def close(self, conn: Any) -> None:
        conn.close()
