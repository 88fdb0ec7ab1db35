"""`triage repro dns` and `triage repro dns serve` as a user runs them: the CLI in-process, and
`serve` as a real process stopped by a real Ctrl-C."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys

import dns.message
import dns.query

from triage.repro.dns_server import synthetic_a
from tests.cli_runner import CliResult, InProcessTriage

SMALL = ["--path", "wire", "--duration", "30", "--max-queries", "40", "--rate", "0", "--workers", "1",
         "--pool", "1", "--hold-ms", "0"]


def triage(*args: str) -> CliResult:
    # As the bare environment the subprocess version ran in: no resolver overrides from the caller.
    return InProcessTriage(".")(*args, drop=("TRIAGE_", "LOCALDOMAIN", "RES_OPTIONS"))


def test_compare_json_prints_only_the_document():
    done = triage("repro", "dns", "--compare", "healthy", "delay=1ms", *SMALL, "--format", "json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert set(doc) == {"path", "sides"} and doc["path"] == "wire"
    assert [s["profile"] for s in doc["sides"]] == ["healthy", "delay=1ms"]
    assert all(s["queries_per_lookup"] == 2.0 and set(s["lookup_ms"]) == {"p50", "p95", "p99", "max"}
               for s in doc["sides"])
    assert "path wire" in done.stderr


def test_table_says_which_path_ran(tmp_path):
    done = triage("repro", "dns", "-p", "search-nxdomain", *SMALL, "--save-snapshots", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "path wire" in done.stdout and "search-nxdomain" in done.stdout
    assert re.search(r"queries per lookup\s+│\s+8\.00", done.stdout)
    assert f"wrote {tmp_path}/1-search-nxdomain.json" in done.stderr
    assert json.loads((tmp_path / "1-search-nxdomain.json").read_text())["schema"] == "triage.snapshot/v1"


def test_bad_profile_is_exit_2_with_one_line():
    done = triage("repro", "dns", "-p", "delay=3ms,wobble", *SMALL)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "unknown key 'wobble'" in done.stderr
    assert done.stdout == ""


def test_bad_format_is_exit_2():
    assert triage("repro", "dns", *SMALL, "--format", "xml").returncode == 2


def test_serve_refuses_a_non_loopback_bind_without_confirmation():
    done = triage("repro", "dns", "serve", "--bind", "0.0.0.0", "--port", "0")
    assert done.returncode == 2
    assert "--i-know-this-exposes-dns" in done.stderr and done.stderr.strip().count("\n") == 0


def test_serve_answers_until_interrupted():
    proc = subprocess.Popen([sys.executable, "-m", "triage", "repro", "dns", "serve", "--port", "0",
                             "--profile", "delay=1ms", "--name", "db.quay.svc"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        match = re.search(r"serving DNS on 127\.0\.0\.1:(\d+) \(UDP and TCP\), profile delay=1ms", line)
        assert match, line
        port = int(match.group(1))
        reply = dns.query.udp(dns.message.make_query("db.quay.svc", "A"), "127.0.0.1", port=port, timeout=5)
        tcp = dns.query.tcp(dns.message.make_query("db.quay.svc", "A"), "127.0.0.1", port=port, timeout=5)
        assert [r.to_text() for rrset in reply.answer for r in rrset] == [synthetic_a("db.quay.svc")]
        assert tcp.answer == reply.answer
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped after 2 queries (answered 2," in err
