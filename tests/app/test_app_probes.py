"""The app probe against real local HTTP(S) servers (http_server.py)."""

from __future__ import annotations

import socket

import pytest

from triage.probes import all_probes
from triage.probes.app import Tally
from triage.config import parse_config
from triage.model import Snapshot
from triage.runner import RunOptions, run_probes

from .http_server import CERT, Answer, ControlledServer, always, every

TOKEN = "Bearer t0ken-Zq93-never-record"


def config_for(url: str, extra: str = "", top: str = "") -> object:
    return parse_config(f"""
{top}
targets:
  - name: registry
    url: "{url}"
    timeout: 2
{extra}
""", "triage.yaml")


def run(config, samples: int = 20) -> Snapshot:
    return run_probes(config, RunOptions(layers=("app",), label="t", samples=samples))


def only_result(snapshot: Snapshot):
    assert len(snapshot.results) == 1, snapshot.results
    return snapshot.results[0]


def metric(res, name: str):
    found = [m for m in res.measurements if m.metric == name]
    assert len(found) == 1, [m.metric for m in res.measurements]
    return found[0]


def counts(res, name: str) -> tuple[int, int]:
    m = metric(res, name)
    return m.events, m.trials


def test_a_healthy_endpoint():
    with ControlledServer(always(Answer(200, body_size=123))) as server:
        res = only_result(run(config_for(server.url + "/health"), samples=20))
    assert res.status == "ok", res.error
    assert (res.layer, res.probe, res.target) == ("app", "http", "registry")
    assert len(metric(res, "latency").values) == 20
    assert all(v > 0 for v in metric(res, "latency").values)
    assert counts(res, "errors") == (0, 20)
    assert counts(res, "request_failures") == (0, 20)
    assert counts(res, "status_2xx") == (20, 20)
    assert metric(res, "status_2xx").better == "higher"
    assert counts(res, "status_5xx") == (0, 20)
    assert metric(res, "status_5xx").better == "lower"
    assert metric(res, "response_size").value == 123
    assert metric(res, "errors").extra["status_codes"] == {"200": 20}
    # 20 samples and one unrecorded warm-up per group (10 groups of 2).
    assert [(m, p) for m, p, _ in server.requests] == [("GET", "/health")] * 30


def test_one_in_five_answers_500():
    with ControlledServer(every(5, Answer(500))) as server:
        res = only_result(run(config_for(server.url + "/health"), samples=50))
    assert res.status == "ok", res.error
    assert counts(res, "errors") == (10, 50)
    assert counts(res, "status_5xx") == (10, 50)
    assert counts(res, "status_2xx") == (40, 50)
    assert counts(res, "request_failures") == (0, 50)
    assert metric(res, "errors").extra["status_codes"] == {"200": 40, "500": 10}
    assert len(metric(res, "latency").values) == 50  # a fast 500 is still an answer with a latency


def test_expected_status_and_method_come_from_the_config():
    extra = "    method: post\n    expect_status: [201, 202]"
    with ControlledServer(every(2, Answer(202), Answer(201))) as server:
        res = only_result(run(config_for(server.url + "/push", extra), samples=10))
    assert counts(res, "errors") == (0, 10)
    assert counts(res, "status_2xx") == (10, 10)
    assert {m for m, _, _ in server.requests} == {"POST"}


def test_redirects_are_not_followed_and_count_as_unexpected():
    with ControlledServer(always(Answer(302, location="/login"))) as server:
        res = only_result(run(config_for(server.url + "/health"), samples=6))
    assert counts(res, "errors") == (6, 6)
    assert counts(res, "status_3xx") == (6, 6)
    assert metric(res, "status_3xx").better == "lower"
    assert {p for _, p, _ in server.requests} == {"/health"}  # /login was never fetched


def test_header_values_from_env_are_sent_and_never_recorded(monkeypatch):
    monkeypatch.setenv("TRIAGE_TEST_TOKEN", TOKEN)
    extra = '    headers:\n      Authorization: "${TRIAGE_TEST_TOKEN}"'
    with ControlledServer(always(Answer(200))) as server:
        snap = run(config_for(server.url + "/private?key=k3y-in-query", extra), samples=5)
    assert only_result(snap).status == "ok"
    assert {h.get("Authorization") for _, _, h in server.requests} == {TOKEN}
    assert all(h["User-Agent"].startswith("triage/") for _, _, h in server.requests)
    text = snap.to_json()
    assert TOKEN not in text and "t0ken" not in text


def test_an_endpoint_that_never_answers_times_out_and_the_probe_gives_up():
    # A socket that listens but never accepts: connects succeed, answers never come.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        port = silent.getsockname()[1]
        cfg = config_for(f"http://127.0.0.1:{port}/health?token=s3cret-query", "    timeout: 0.05")
        res = only_result(run(cfg, samples=50))
    assert res.status == "error"
    assert res.error.startswith("EndpointUnreachable: all 3 requests to http://127.0.0.1:")
    assert "first: timeout: " in res.error
    assert "s3cret-query" not in res.error


def test_a_closed_port_is_an_error_with_its_reason():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = only_result(run(config_for(f"http://user:hunter2-pw@127.0.0.1:{port}/"), samples=10))
    assert res.status == "error"
    assert "first: connection: " in res.error
    assert "Connection refused" in res.error
    assert "hunter2-pw" not in res.error


def test_tls_is_verified_by_default():
    with ControlledServer(always(Answer(200)), tls=True) as server:
        res = only_result(run(config_for(server.url + "/health"), samples=5))
    assert res.status == "error"
    assert "first: tls: " in res.error
    assert "CERTIFICATE_VERIFY_FAILED" in res.error


def test_tls_with_the_configured_ca_bundle():
    with ControlledServer(always(Answer(200, body_size=7)), tls=True) as server:
        res = only_result(run(config_for(server.url + "/health", f'    verify: "{CERT}"'), samples=5))
    assert res.status == "ok", res.error
    assert counts(res, "status_2xx") == (5, 5)
    assert metric(res, "response_size").value == 7


def test_tls_verification_can_be_turned_off():
    with ControlledServer(always(Answer(200)), tls=True) as server:
        res = only_result(run(config_for(server.url + "/health", "    verify: false"), samples=3))
    assert res.status == "ok", res.error


def test_no_url_target_means_the_probe_is_skipped():
    snap = run(parse_config("targets:\n  - {name: db, host: 127.0.0.1, port: 5432}\n", "triage.yaml"))
    res = only_result(snap)
    assert (res.status, res.error) == ("skipped", "no target with a url in the config")


def test_target_samples_override_the_run_default():
    with ControlledServer(always(Answer(200))) as server:
        res = only_result(run(config_for(server.url, "    samples: 4"), samples=30))
    assert len(metric(res, "latency").values) == 4


def test_broken_answers_are_counted_not_fatal():
    # Every 4th answer promises 100 bytes more than it sends, then hangs up. Two groups of a
    # warm-up and 4 samples: requests 1-5 and 6-10, so answers 4 and 8 are sampled ones.
    with ControlledServer(every(4, Answer(200, truncated=True))) as server:
        res = only_result(run(config_for(server.url, top="groups: 2"), samples=8))
    assert res.status == "ok", res.error
    assert counts(res, "request_failures") == (2, 8)
    assert counts(res, "errors") == (2, 8)
    assert counts(res, "status_2xx") == (6, 8)
    assert metric(res, "errors").extra["failures"] == {"request": 2}
    assert len(metric(res, "latency").values) == 6


def test_tally_without_answers_has_no_size_and_counts_failures_by_kind():
    t = Tally(expect_status=(200, 204))
    t.answered(204, 1.5, 0)
    t.failed("timeout", "read timed out")
    t.failed("timeout", "read timed out")
    got = {m.metric: m for m in t.measurements()}
    assert (got["errors"].events, got["errors"].trials) == (2, 3)
    assert got["errors"].extra == {"status_codes": {"204": 1}, "failures": {"timeout": 2}}
    assert (got["status_2xx"].events, got["status_2xx"].trials) == (1, 3)
    assert got["latency"].values == (1.5,)
    assert got["response_size"].value == 0
    assert t.first_failure == "timeout: read timed out"


@pytest.mark.parametrize("fanout, expected", [("", True), ("    fanout: false", False)])
def test_a_url_target_fans_out_to_tcp_connect_unless_disabled(fanout, expected):
    cfg = config_for("http://127.0.0.1:8080/health", fanout)
    assert (("registry", ("127.0.0.1", 8080)) in cfg.endpoints()) is expected
    tcp_connect = next(s for s in all_probes(["kernel"]) if s.name == "tcp_connect")
    assert (("registry", ("127.0.0.1", 8080)) in tcp_connect.expand(cfg)) is expected


def test_each_group_is_a_new_session_opened_by_an_unrecorded_warm_up():
    with ControlledServer(always(Answer(200))) as server:
        res = only_result(run(config_for(server.url + "/health", "    groups: 4"), samples=10))
    assert res.status == "ok", res.error
    latency = metric(res, "latency")
    assert latency.groups == (3, 3, 2, 2)
    assert counts(res, "errors") == (0, 10)  # the warm-ups are in no tally
    # Requests by connection, in order: a warm-up and its group's samples share one, and
    # every group has its own.
    ports = server.client_ports
    assert len(ports) == 14
    assert [len(set(ports[a:b])) for a, b in ((0, 4), (4, 8), (8, 11), (11, 14))] == [1, 1, 1, 1]
    assert len({ports[0], ports[4], ports[8], ports[11]}) == 4


def test_a_timed_out_request_costs_its_wait_in_the_latency():
    # Request 3 (the second sample, after the warm-up) answers after the client gave up.
    slow = Answer(200, delay_s=1.0)
    with ControlledServer(lambda n: slow if n == 3 else Answer(200)) as server:
        res = only_result(run(config_for(server.url, "    timeout: 0.3\n    groups: 1"), samples=5))
    assert res.status == "ok", res.error
    assert counts(res, "request_failures") == (1, 5)
    assert metric(res, "errors").extra["failures"] == {"timeout": 1}
    latency = metric(res, "latency").values
    assert len(latency) == 5  # four answers and the timeout's wait
    assert max(latency) >= 300.0  # the wait is at least the timeout: it was counted, not skipped
