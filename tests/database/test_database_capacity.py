"""A database out of connections is a finding, not a failed probe (issue 15): the session's
real PostgreSQL with every slot really taken, a real app that needs it, a real wrong password."""

from __future__ import annotations

import contextlib
import json
import socket
from typing import Iterator

import psycopg
import pytest

from triage.model import Snapshot
from triage.probes import GROUP_END, ProbeSpec
from triage.probes import database
from triage.probes.pg_connect import CAPACITY, CONFIGURATION, IDENTITY, UNREACHABLE, classify
from triage.runner import RunOptions, run_probes
from tests.app.http_server import Answer, ControlledServer
from tests.cli_runner import InProcessTriage

from .pg_server import PASSWORD
from .test_database_cli import write_config
from .test_database_probes import CRITICAL, config_for, metric, result


@contextlib.contextmanager
def every_slot_taken(postgres, *, superuser_slots: bool = True) -> Iterator[list]:
    """Connections as the probes' role until the server refuses one (the slots left are kept
    for superusers), then, unless told not to, superuser ones until those are gone too."""
    held = []
    keeper = postgres.admin()  # ends the others and waits for their backends to exit (below)
    try:
        for connect in ([lambda: psycopg.connect(postgres.dsn(), connect_timeout=5)]
                        + ([lambda: postgres.admin()] if superuser_slots else [])):
            while True:
                try:
                    held.append(connect())
                except psycopg.OperationalError:
                    break
                assert len(held) <= 40  # max_connections of the session's server
        yield held
    finally:
        for conn in held:
            # pg_terminate_backend(pid, timeout) waits until the backend has exited, so the
            # next test finds its slot free.
            keeper.execute("SELECT pg_terminate_backend(%s, 5000)", (conn.info.backend_pid,))
            conn.close()
        keeper.close()


def test_the_texts_of_a_real_server_and_of_libpq_are_classified():
    cases = {
        'connection failed: connection to server at "127.0.0.1", port 5 failed: FATAL:  sorry, too many clients already':
            ("too many clients", CAPACITY),
        "FATAL:  remaining connection slots are reserved for non-replication superuser connections":
            ("too many clients", CAPACITY),
        'FATAL:  too many connections for role "quay"': ("too many clients", CAPACITY),
        "FATAL:  the database system is starting up": ("cannot connect now", CAPACITY),
        "FATAL:  the database system is in recovery mode": ("cannot connect now", CAPACITY),
        "could not fork new process for connection: Resource temporarily unavailable": ("out of resources", CAPACITY),
        'FATAL:  password authentication failed for user "quay"': ("bad password", IDENTITY),
        'FATAL:  no pg_hba.conf entry for host "10.0.0.1", user "quay", database "quay", no encryption':
            ("not authorised", IDENTITY),
        'FATAL:  role "nobody" does not exist': ("not authorised", IDENTITY),
        'FATAL:  database "nosuch" does not exist': ("no such database", CONFIGURATION),
        "failed to resolve host 'db.invalid': [Errno -2] Name or service not known": ("name resolution", CONFIGURATION),
        "server does not support SSL, but SSL was required": ("TLS", CONFIGURATION),
        'missing "=" after "junk" in connection info string': ("bad DSN", CONFIGURATION),
        "Connection refused Is the server running on that host and accepting TCP/IP connections?":
            ("unreachable", UNREACHABLE),
        "SSL SYSCALL error: EOF detected": ("unreachable", UNREACHABLE),
        "Verbindung zum Server fehlgeschlagen": ("unreachable", UNREACHABLE),  # lc_messages=de: as before
    }
    for text, expected in cases.items():
        outcome = classify(None, text)
        assert (outcome.kind, outcome.klass) == expected, text
    # The SQLSTATE decides when there is one (errors after the connection carry it).
    assert classify("53300", "Zu viele Verbindungen").kind == "too many clients"
    assert classify("57P03", "whatever").klass == CAPACITY
    # A connect timeout is capacity only when the server's port still accepts TCP.
    assert classify(None, "connection timeout expired", timed_out=True, listening=lambda: True).klass == CAPACITY
    assert classify(None, "connection timeout expired", timed_out=True, listening=lambda: False).klass == UNREACHABLE


def test_every_slot_taken_is_measured_by_every_probe_and_none_gives_up(postgres):
    with every_slot_taken(postgres):
        snap = run_probes(config_for(postgres.dsn(), queries=CRITICAL), RunOptions(layers=("database",), samples=12))
    assert {r.probe: r.status for r in snap.results} == {p: "ok" for p in (
        "connect", "query", "connections", "cache", "activity", "statements")}, [(r.probe, r.error) for r in snap.results]
    connect = result(snap, "connect")
    errors = metric(connect, "connect_errors")
    # All twelve attempts made, all refused, each counted by kind: no giving up after three.
    assert (errors.events, errors.trials) == (12, 12)
    assert errors.extra["kinds"] == {"too many clients": 12}
    assert errors.extra["combine"] == "registry-db"
    assert [m.metric for m in connect.measurements] == ["connect_errors"]
    assert any("latency dropped: none of 12 connections succeeded (too many clients 12)" in n for n in connect.notes)
    query = result(snap, "query", "registry-db/image-layer-fetch")
    assert [m.metric for m in query.measurements] == ["connect_errors"]
    assert metric(query, "connect_errors").events == metric(query, "connect_errors").trials == 10  # one per group
    conns = result(snap, "connections")
    assert [m.metric for m in conns.measurements] == ["connect_errors"]
    assert metric(conns, "connect_errors").trials == 10  # asked again every group
    for window in ("cache", "activity", "statements"):
        assert result(snap, window).measurements == ()
        assert result(snap, window).notes == ("no window: the reading at its start could not connect "
                                              "(too many clients 1)",)


def test_refusals_after_a_reading_carry_its_connection_states(postgres):
    storm = []

    def fill(target, ctx):
        """A sub-run probe that takes the role's slots on its first turn: after the connect
        probe's first group (rounds go in the order of the specs)."""
        storm.append(every_slot_taken(postgres, superuser_slots=False))
        storm[0].__enter__()
        yield GROUP_END
        yield GROUP_END

    try:
        snap = run_probes(config_for(postgres.dsn(), extra="    groups: 3"), RunOptions(layers=("database",), samples=6),
                          specs=[database.connect.__triage_probe__, ProbeSpec("database", "fill", fill, subruns=True)])
    finally:
        for s in storm:
            s.__exit__(None, None, None)
    errors = metric(result(snap, "connect"), "connect_errors")
    assert (errors.events, errors.trials) == (4, 6)  # groups 2 and 3 refused
    assert errors.extra["kinds"] == {"too many clients": 4}
    (label, figures), = errors.extra["context"].items()
    assert label == "last reading"
    assert dict(figures)["max_connections"] == 40
    assert [name for name, _ in figures][:2] == ["connections", "max_connections"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_connect_timeout_to_a_listening_server_is_capacity_to_nothing_is_unreachable(postgres):
    with socket.socket() as silent:  # accepts TCP (the kernel's backlog), never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        dsn = f"postgresql://quay:{PASSWORD}@127.0.0.1:{silent.getsockname()[1]}/quay"
        snap = run_probes(config_for(dsn, timeout=2), RunOptions(layers=("database",), samples=1),
                          specs=[database.connect.__triage_probe__])
    connect = result(snap, "connect")
    assert connect.status == "ok", connect.error
    errors = metric(connect, "connect_errors")
    assert (errors.events, errors.trials, errors.extra["kinds"]) == (1, 1, {"connect timeout": 1})
    assert PASSWORD not in snap.to_json()


# --- through the CLI: probe, compare, report -----------------------------------------------------


def registry_app(postgres) -> ControlledServer:
    """An app that opens a database connection per request, as the registry did: 500 when it cannot."""
    def answer(n: int) -> Answer:
        try:
            with psycopg.connect(postgres.dsn(), connect_timeout=5) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError:
            return Answer(status=500)
        return Answer()

    return ControlledServer(answer)


def test_a_full_database_is_the_root_suspect_and_the_app_downstream_never_failed(postgres, tmp_path):
    triage = InProcessTriage(str(tmp_path))
    with registry_app(postgres) as app:
        config = write_config(tmp_path / "triage.yaml", postgres.dsn(), app.url + "/health")
        probe = ("probe", "--config", config, "--layers", "database,app", "--quiet")
        outputs = [triage(*probe, "--label", "4.3.18", "--out", "before.json", drop=("PG",))]
        with every_slot_taken(postgres):
            outputs.append(triage(*probe, "--label", "4.3.19", "--out", "after.json", drop=("PG",)))
    assert [o.returncode for o in outputs] == [0, 0], [o.stderr for o in outputs]
    after = Snapshot.load(str(tmp_path / "after.json"))
    assert {r.status for r in after.results} == {"ok"}, [(r.probe, r.error) for r in after.results]

    compared = triage("compare", "before.json", "after.json", "--format", "json")
    outputs.append(compared)
    assert compared.returncode == 3, compared.stderr
    verdict = compared.json()
    assert verdict["layers"]["database"] == "regressed"
    assert "failed" not in verdict["layers"].values()
    roles = {s["layer"]: s["role"] for s in verdict["suspects"]}
    assert roles == {"database": "root", "app": "downstream"}
    root = next(s for s in verdict["suspects"] if s["role"] == "root")
    assert root["because"].startswith("database regressed: connect connect_errors of registry-db 0.00% → 100.0% (")
    assert "; too many clients)" in root["because"]
    app = next(s for s in verdict["suspects"] if s["layer"] == "app")
    assert app["downstream_of"] == ["database"]

    outputs.append(triage("report", "before.json", "after.json", "-o", "report.md"))
    assert outputs[-1].returncode == 3
    assert "too many clients" in (tmp_path / "report.md").read_text()
    for done in outputs:
        assert PASSWORD not in done.stdout + done.stderr
    for name in ("before.json", "after.json", "report.md"):
        assert PASSWORD not in (tmp_path / name).read_text()


def test_a_wrong_password_is_still_a_failed_layer_and_never_in_any_output(postgres, tmp_path):
    wrong = "Wr0ng-pa55word-15"
    triage = InProcessTriage(str(tmp_path))
    config = (tmp_path / "good.yaml")
    config.write_text(f'targets:\n  - name: registry-db\n    dsn: "{postgres.dsn()}"\n')
    bad = (tmp_path / "bad.yaml")
    bad.write_text(f'targets:\n  - name: registry-db\n    dsn: "{postgres.dsn(password=wrong)}"\n')
    outputs = [triage("probe", "--config", str(cfg), "--layers", "database", "--samples", "10", "--label", label,
                      "--out", out, drop=("PG",))
               for cfg, label, out in ((config, "4.3.18", "before.json"), (bad, "4.3.19", "after.json"))]
    assert [o.returncode for o in outputs] == [0, 0]
    assert "ConnectionRejected: registry-db: bad password:" in outputs[1].stderr
    compared = triage("compare", "before.json", "after.json", "--format", "json")
    outputs.append(compared)
    assert compared.returncode == 4, compared.stderr
    verdict = json.loads(compared.stdout)
    assert verdict["layers"]["database"] == "failed"
    assert verdict["suspects"] == []
    outputs.append(triage("report", "before.json", "after.json", "-o", "report.md"))
    for done in outputs:
        assert wrong not in done.stdout + done.stderr
        assert PASSWORD not in done.stdout + done.stderr
    for name in ("after.json", "report.md"):
        text = (tmp_path / name).read_text()
        assert wrong not in text and "password authentication failed" in text


@pytest.mark.parametrize("dsn_of, kind", [
    (lambda pg: pg.dsn(database="nosuch"), "no such database"),
    (lambda pg: pg.dsn() + "?sslmode=require", "TLS"),
])
def test_configuration_errors_fail_at_once_naming_their_kind(postgres, dsn_of, kind):
    # (Name resolution is classified from libpq's text above: resolving a bad name here would
    # ask this machine's nameserver, off loopback.)
    snap = run_probes(config_for(dsn_of(postgres)), RunOptions(layers=("database",), samples=6))
    connect = result(snap, "connect")
    assert connect.status == "error"
    assert connect.error.startswith(f"ConnectionRejected: registry-db: {kind}: ")
    assert PASSWORD not in snap.to_json()
