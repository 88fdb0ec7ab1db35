"""Connecting to PostgreSQL for the database probes, and how an attempt ended.

A refusal for *capacity* is a measurement, not a broken probe: a server with every slot
taken is the 2021 incident's end state, and a probe that gave up there (as it did for a
wrong password) made the layer "failed" and pointed the triage away from the database.
Identity and configuration stay errors: retrying a wrong password measures nothing.

- capacity, counted in ``connect_errors`` by kind while the probe samples on:
  too many clients (53300: "sorry, too many clients already", "remaining connection slots
  are reserved", "too many connections for role/database"); cannot connect now (57P03:
  starting up, shutting down, in recovery); out of resources (53000, 53200: "could not
  fork new process", "out of memory"); a connect timeout while the server's port accepts TCP.
- identity, ``status: error`` at once (ConnectionRejected): bad password (28P01, "password
  authentication failed", no password supplied); not authorised (28000: no pg_hba.conf
  entry, no such role, may not log in).
- configuration, ``status: error`` at once (ConnectionRejected): no such database (3D000),
  a DSN libpq cannot parse, name resolution, TLS setup.
- unreachable, counted, and the probe gives up when its first 3 attempts all fail
  (DatabaseUnreachable): connection refused, no route, a connect timeout with nothing
  accepting TCP, anything unrecognised.

libpq keeps the SQLSTATE of a failed startup to itself (psycopg's ``sqlstate`` is None for
every connection failure; only errors after the connection carry one), so the server's and
libpq's English texts decide there. A server speaking another language (``lc_messages``)
lands in "unreachable", which is what every failure was before.
"""

from __future__ import annotations

import math
import os
import re
import socket
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from triage.config import Target
from triage.model import Measurement

GIVE_UP_AFTER = 3  # first attempts that all failed, none for capacity: the server is not there
APPLICATION_NAME = "triage"
LISTEN_CHECK_S = 1.0  # a TCP connect that tells a busy server from an absent one

CAPACITY, IDENTITY, CONFIGURATION, UNREACHABLE = "capacity", "identity", "configuration", "unreachable"
CONNECT_TIMEOUT = "connect timeout"


class DatabaseUnreachable(Exception):
    """No connection could be made; the message is scrubbed of secrets."""


class ConnectionRejected(Exception):
    """Identity or configuration: retrying cannot help (bad password, no such database, name
    resolution, TLS). The message names the kind and is scrubbed of secrets."""


@dataclass(frozen=True)
class Outcome:
    kind: str  # "too many clients", "bad password", ...
    klass: str  # CAPACITY, IDENTITY, CONFIGURATION or UNREACHABLE

    @property
    def fatal(self) -> bool:
        return self.klass in (IDENTITY, CONFIGURATION)


# (kind, class, SQLSTATEs, lower-case patterns of the text), checked in order: the first match wins.
_RULES: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("too many clients", CAPACITY, ("53300",),
     ("too many clients", "remaining connection slots are reserved", "too many connections for")),
    ("cannot connect now", CAPACITY, ("57P03",),
     ("the database system is starting up", "the database system is shutting down",
      "the database system is in recovery mode", "the database system is not yet accepting connections",
      "the database system is not accepting connections", "cannot connect now")),
    ("out of resources", CAPACITY, ("53000", "53100", "53200"), ("could not fork new process", "out of memory")),
    ("bad password", IDENTITY, ("28P01",),
     ("password authentication failed", "no password supplied", "fe_sendauth: no password")),
    ("not authorised", IDENTITY, ("28000",),
     ("no pg_hba.conf entry", "pg_hba.conf rejects", r"role \".*\" does not exist", "is not permitted to log in",
      "authentication failed")),
    ("no such database", CONFIGURATION, ("3D000",), (r"database \".*\" does not exist",)),
    # psycopg.ProgrammingError: a DSN libpq cannot parse.
    ("bad DSN", CONFIGURATION, (),
     ("invalid percent-encoded token", r"missing \"=\" after", "invalid uri", "invalid connection option",
      r"invalid \w+ value", "unterminated quoted string", "connection info string")),
    ("name resolution", CONFIGURATION, (),
     ("could not translate host name", "failed to resolve host", "name or service not known",
      "temporary failure in name resolution", "nodename nor servname")),
    # A connection that dropped mid-handshake, TLS or not, is the network's, not the setup's.
    ("unreachable", UNREACHABLE, (),
     ("ssl syscall error", "server closed the connection unexpectedly", "connection refused", "no route to host",
      "network is unreachable")),
    ("TLS", CONFIGURATION, (), (r"\bssl\b", r"\btls\b", "certificate")),
)
_COMPILED = tuple((kind, klass, states, tuple(re.compile(p) for p in patterns))
                  for kind, klass, states, patterns in _RULES)


def classify(sqlstate: str | None, message: str, *, timed_out: bool = False,
             listening: Callable[[], bool] = lambda: False) -> Outcome:
    """How a connection attempt ended. ``timed_out``: the client's connect_timeout expired;
    ``listening()`` then says whether the server's port still accepts TCP (a server too busy
    to finish the startup in time, as opposed to one that is not there)."""
    for kind, klass, states, _ in _COMPILED:
        if sqlstate and sqlstate in states:
            return Outcome(kind, klass)
    text = message.lower()
    for kind, klass, _, patterns in _COMPILED:
        if any(p.search(text) for p in patterns):
            return Outcome(kind, klass)
    if timed_out or "timeout expired" in text:
        return Outcome(CONNECT_TIMEOUT, CAPACITY) if listening() else Outcome(CONNECT_TIMEOUT, UNREACHABLE)
    return Outcome("unreachable", UNREACHABLE)


# --- secrets ---------------------------------------------------------------------------------


def scrub(text: str, target: Target) -> str:
    """One line of error text with no password in it, whichever form the DSN takes
    (``Target.mask``; triage.secrets knows the forms, $PGPASSWORD included)."""
    return target.mask(text)


# --- where the server is -----------------------------------------------------------------------


def endpoints(conninfo: dict[str, Any]) -> list[tuple[str, int]]:
    """(host or socket directory, port) of every host a conninfo names; libpq's defaults
    (PGHOST, PGPORT, the unix socket) where it names none."""
    hosts = str(conninfo.get("hostaddr") or conninfo.get("host") or os.environ.get("PGHOSTADDR")
                or os.environ.get("PGHOST") or "/var/run/postgresql").split(",")
    ports = str(conninfo.get("port") or os.environ.get("PGPORT") or "5432").split(",")
    out = []
    for i, host in enumerate(hosts):
        port = ports[i] if i < len(ports) else ports[-1]
        try:
            out.append((host.strip(), int(port.strip() or 5432)))
        except ValueError:
            continue
    return out


def accepts_tcp(points: Iterable[tuple[str, int]], timeout_s: float = LISTEN_CHECK_S) -> bool:
    """Does any of these endpoints accept a connection (TCP, or the unix socket)?"""
    for host, port in points:
        try:
            if host.startswith("/"):
                with socket.socket(socket.AF_UNIX) as s:
                    s.settimeout(timeout_s)
                    s.connect(f"{host}/.s.PGSQL.{port}")
            else:
                socket.create_connection((host, port), timeout=timeout_s).close()
            return True
        except OSError:
            continue
    return False


# --- a probe's attempts --------------------------------------------------------------------------


@dataclass
class Attempts:
    """The connection attempts of one probe run: how many, refused how, and when to stop."""

    target: Target
    tried: int = 0
    connected: int = 0
    kinds: Counter = field(default_factory=Counter)
    capacity: int = 0
    first_error: str | None = None
    _listening: bool | None = None
    last_reading: list[tuple[str, int]] | None = None  # connection figures at the latest successful reading
    # ... as they were when capacity last refused an attempt: the evidence (a reading taken
    # after the refusals ended would say nothing about them).
    reading_when_refused: list[tuple[str, int]] | None = None

    def succeeded(self) -> None:
        self.tried += 1
        self.connected += 1

    def failed(self, exc: Exception) -> Outcome:
        """Count a failed attempt; ConnectionRejected (scrubbed) when retrying cannot help."""
        import psycopg

        self.tried += 1
        text = scrub(str(exc), self.target)
        timeout_class = getattr(psycopg.errors, "ConnectionTimeout", ())
        outcome = classify(getattr(exc, "sqlstate", None), text, timed_out=isinstance(exc, timeout_class),
                           listening=self._is_listening)
        if outcome.fatal:
            raise ConnectionRejected(scrub(f"{self.target.name}: {outcome.kind}: {exc}", self.target)) from None
        self.kinds[outcome.kind] += 1
        if outcome.klass == CAPACITY:
            self.capacity += 1
            self.reading_when_refused = self.last_reading
        self.first_error = self.first_error or text
        return outcome

    def _is_listening(self) -> bool:
        if self._listening is None:  # once per probe run: it costs a TCP connect
            try:
                from psycopg.conninfo import conninfo_to_dict

                self._listening = accepts_tcp(endpoints(conninfo_to_dict(self.target.dsn or "")))
            except Exception:  # noqa: BLE001 - an unparsable DSN never connected either
                self._listening = False
        return self._listening

    @property
    def failures(self) -> int:
        return self.tried - self.connected

    def hopeless(self) -> bool:
        """Nothing connected and the first few failed for no reason of capacity: stop trying."""
        return not self.connected and self.failures - self.capacity >= GIVE_UP_AFTER

    def unreachable(self) -> DatabaseUnreachable:
        return DatabaseUnreachable(scrub(f"{self.target.name}: {self.failures} connection attempts failed; "
                                         f"first: {self.first_error}", self.target))

    def refusals(self) -> str:
        """'too many clients 12, connect timeout 2', most frequent first."""
        return ", ".join(f"{kind} {n}" for kind, n in self.kinds.most_common())

    def measurement(self, combine: str | None = None) -> Measurement:
        """``connect_errors``: failed attempts of all attempts, by kind. ``combine`` marks it a
        failure rate the judge may add up over the targets of one database; the connection
        states of the last reading before a capacity refusal ride along."""
        extra: dict[str, Any] = {"kinds": dict(sorted(self.kinds.items()))}
        if combine is not None:
            extra["combine"] = combine
        if self.reading_when_refused:
            extra["context"] = {"last reading": [list(pair) for pair in self.reading_when_refused]}
        return Measurement("connect_errors", "proportion", "lower", events=self.failures, trials=self.tried,
                           extra=extra)


def connect_kwargs(target: Target, remaining_s: float) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"autocommit": True}
    try:
        from psycopg.conninfo import conninfo_to_dict

        given = conninfo_to_dict(target.dsn or "")
    except Exception:  # noqa: BLE001 - connect() raises the same error, scrubbed
        given = {}
    if "connect_timeout" not in given:
        # libpq takes whole seconds and treats anything below 2 as 2.
        kwargs["connect_timeout"] = max(2, math.ceil(min(target.timeout_s, max(remaining_s, 0.001))))
    if "application_name" not in given:
        kwargs["application_name"] = APPLICATION_NAME
    return kwargs


def statement_timeout_ms(target: Target) -> int:
    return max(1, int(target.timeout_s * 1000))


def open_connection(target: Target, remaining_s: float, attempts: Attempts) -> Any | None:
    """A connection with statement_timeout set, or None when the server refused it for
    capacity (counted in ``attempts``). Raises ConnectionRejected (identity, configuration)
    and DatabaseUnreachable (anything else), both scrubbed."""
    import psycopg

    try:
        conn = psycopg.connect(target.dsn, **connect_kwargs(target, remaining_s))
    except psycopg.Error as exc:
        outcome = attempts.failed(exc)
        if outcome.klass == CAPACITY:
            return None
        # ``from None``: the original exception's text may hold the connection string.
        raise DatabaseUnreachable(scrub(f"{target.name}: {exc}", target)) from None
    attempts.succeeded()
    try:
        # Every statement of ours is bounded, the catalog reads as much as the critical queries.
        conn.execute(f"SET statement_timeout = {statement_timeout_ms(target)}")
    except psycopg.Error as exc:
        conn.close()
        raise DatabaseUnreachable(scrub(f"{target.name}: {exc}", target)) from None
    return conn
