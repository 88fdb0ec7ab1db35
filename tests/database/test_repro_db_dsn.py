"""`triage repro db --dsn` against a server the user has (the session's real PostgreSQL): the
schema is built and dropped, a schema it did not make is refused, the password appears
nowhere, and Ctrl-C stops the storm and still cleans up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psycopg

from triage.repro import quay_schema

from .pg_server import PASSWORD

SMALL = ("--rows", "2000", "--keys", "10", "--rate", "20", "--duration", "2", "--profile", "pods=3,pool=2")


def _schema(postgres) -> bool | None:
    with postgres.admin() as conn:
        return quay_schema.ours(conn)


def test_a_storm_against_a_named_server_leaves_nothing_behind(postgres, triage, tmp_path):
    done = triage("repro", "db", "--dsn", postgres.dsn(), *SMALL, "--snapshot-dir", "snaps", "--format", "json",
                  drop=("PG",))
    assert done.returncode == 0, done.stderr
    report = done.json()
    assert report["server"] == f"postgresql://quay:***@127.0.0.1:{postgres.port}/quay"
    (side,) = report["sides"]
    assert side["max_connections"] == 40  # the server's own: never changed
    assert side["requests"] > 0 and side["pods"] == 3
    assert _schema(postgres) is None  # dropped at the end
    for text in [done.stdout, done.stderr] + [(tmp_path / "snaps" / f).read_text() for f in os.listdir(tmp_path / "snaps")]:
        assert PASSWORD not in text


def test_a_schema_it_did_not_make_is_refused_and_kept(postgres, triage):
    with psycopg.connect(postgres.dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {quay_schema.SCHEMA}")
    try:
        done = triage("repro", "db", "--dsn", postgres.dsn(), *SMALL, drop=("PG",))
        assert done.returncode == 2
        assert done.stderr == (f"triage: error: --dsn: schema {quay_schema.SCHEMA} exists and was not made by triage; "
                               "drop it or name another database\n")
        assert _schema(postgres) is False
    finally:
        with postgres.admin() as conn:
            conn.execute(f"DROP SCHEMA {quay_schema.SCHEMA}")


def test_a_wrong_password_is_exit_2_without_the_password(postgres, triage):
    wrong = "Wr0ng-storm-pw-15"
    done = triage("repro", "db", "--dsn", postgres.dsn(password=wrong), *SMALL, drop=("PG",))
    assert done.returncode == 2
    assert done.stderr.startswith("triage: error: --dsn: cannot connect: ")
    assert "password authentication failed" in done.stderr
    assert wrong not in done.stderr + done.stdout


def test_ctrl_c_stops_the_storm_drops_the_schema_and_writes_nothing(postgres, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "triage", "repro", "db", "--dsn", postgres.dsn(), "--rows", "2000",
                             "--keys", "1000", "--duration", "120", "--snapshot-dir", "snaps", "--quiet"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={k: v for k, v in {**os.environ, "CI": "true"}.items() if not k.startswith("PG")})
    # Wait for the condition "the storm is on" (pods connected), not for a fixed time.
    give_up = time.monotonic() + 60
    with postgres.admin() as conn:
        while proc.poll() is None and time.monotonic() < give_up:
            pods = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'triage-repro-db'"
                                ).fetchone()[0]
            if pods:
                break
            time.sleep(0.01)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted; nothing was written" in stderr
    assert os.listdir(tmp_path / "snaps") == []
    assert _schema(postgres) is None
    assert PASSWORD not in stdout + stderr
