"""The Prometheus source against a real Prometheus holding recorded history (history.py)."""

from __future__ import annotations

import json

import pytest

from tests.kubernetes.kube_states import write_kubeconfig, with_history
from tests.kubernetes.kubeapi_server import KubeApiServer
from triage.config import load_config
from triage.errors import BadInput
from triage.judge import compare_snapshots
from triage.judging import Judging
from triage.report import RenderOptions, render
from triage.sources.prometheus import usecases
from triage.sources.prometheus.client import PrometheusClient
from triage.sources.prometheus.collect import collect
from triage.sources.prometheus.windows import parse_window

from . import history
from .auth_proxy import AuthProxy
from .conftest import NOW

PROM_TOKEN = "sha256~Pr0m-t0ken-4b9f2c7e1d-never-shown"


def read(config_path, spec: str, label: str = "unlabelled"):
    return usecases.probe(config_path=str(config_path), window=spec, label=label, now=NOW).read


def test_dns_pod_slower_after_the_upgrade_is_the_root_and_named(recorded, prom_config, tmp_path):
    with KubeApiServer(with_history(history.cluster_version_history())) as api:
        cfg = prom_config(recorded.url, kubeconfig=write_kubeconfig(tmp_path / "kubeconfig", api.url))
        gated = usecases.gate(config_path=str(cfg), window="upgrade:4.3.19", baseline=None, now=NOW,
                              judging=Judging(store=str(tmp_path / "store")), report_path=str(tmp_path / "report.md"))
    c = gated.result.comparison
    assert c.exit_status == 3 and c.verdict == "regressed"
    roles = {s.layer: s.role for s in c.suspects}
    assert roles == {"dns": "root", "app": "downstream"}
    dns = next(s for s in c.suspects if s.layer == "dns")
    assert dns.because.startswith("dns regressed on 1 of 3 CoreDNS pods (dns-default-b); the others ruled out")
    assert {m.target for m in c.metrics if m.verdict == "regressed" and m.layer == "dns"} == {"dns-default-b"}
    assert c.layers["kernel"] == "ok"
    # The windows it chose: the 2h before the rollout started, the 2h after it completed.
    before, after = (r.window for r in gated.reads)
    assert before.describe().startswith("2020-05-27T08:00:00Z → 2020-05-27T10:00:00Z (2h; the last 2h of 4.3.18")
    assert after.describe().startswith("2020-05-27T10:40:00Z → 2020-05-27T12:40:00Z (2h; the first 2h of 4.3.19")
    assert [r.snapshot.label for r in gated.reads] == ["4.3.18", "4.3.19"]
    # The kernel's changed release rides along as evidence, and the report says where.
    markdown = render(c, "markdown", RenderOptions(full_report=True))
    assert "### dns: 1 of 3 CoreDNS pods regressed" in markdown
    assert "| dns-default-b | coredns.latency\\_p50, coredns.latency\\_p99 |" in markdown


def test_two_windows_of_the_healthy_period_are_ok(recorded, prom_config):
    cfg = prom_config(recorded.url)
    a = read(cfg, "2020-05-27T06:00Z/2h", "a1")
    b = read(cfg, "2020-05-27T08:00Z/2h", "a2")
    c = compare_snapshots([a.snapshot], [b.snapshot])
    judged = [m for m in c.metrics if m.kind != "fact"]
    assert len(judged) == 65 and all(m.verdict == "unchanged" for m in judged), \
        [m.id for m in judged if m.verdict != "unchanged"]
    assert c.verdict == "ok" and c.exit_status == 0


def test_retransmits_rising_on_one_node_of_three_name_that_node(recorded, prom_config):
    cfg = prom_config(recorded.url, queries=False)
    before = read(cfg, "2020-05-28T08:00Z/2h", "4.3.18")
    after = read(cfg, "2020-05-28T10:40Z/2h", "4.3.19")
    c = compare_snapshots([before.snapshot], [after.snapshot])
    assert c.verdict == "regressed"
    assert [(s.layer, s.role) for s in c.suspects] == [("kernel", "root")]
    assert c.suspects[0].because.startswith("kernel regressed on 1 of 3 nodes (worker-1); the others did not regress (0 of 2 ruled out): "
                                            "median netstat tcp_retransmit_rate of worker-1")
    regressed = [m for m in c.metrics if m.verdict == "regressed"]
    assert {m.id for m in regressed} == {"kernel.netstat.worker-1.tcp_retransmit_rate"}
    assert regressed[0].unit == "rate" and 0.025 < regressed[0].candidate.p50 < 0.035


def test_every_block_is_one_sample_and_one_group(recorded, prom_config):
    snap = read(prom_config(recorded.url), "2020-05-27T08:00Z/2h").snapshot
    doc = json.loads(snap.to_json())
    latency = next(m for r in doc["results"] if r["target"] == "dns-default-a" for m in r["measurements"]
                   if m["metric"] == "latency_p50")
    assert len(latency["values"]) == 24 and latency["groups"] == [1] * 24 and latency["unit"] == "ms"
    assert 0.5 < sorted(latency["values"])[12] < 0.8  # the recorded 0.6 ms median, read through the histogram
    facts = {(r["target"], m["metric"]): m["value"] for r in doc["results"] for m in r["measurements"]
             if m["kind"] == "fact"}
    assert facts[("worker-0", "kernel_release")] == history.KERNELS[0]
    assert facts[("dns-default-c", "coredns_version")] == "1.6.2"
    assert doc["source"]["window"] == {"start": "2020-05-27T08:00:00Z", "end": "2020-05-27T10:00:00Z", "why": "as given"}
    assert doc["source"]["profiles"]["coredns"] == ["CoreDNS <1.7"]  # the 1.6 rcode counter's name was read
    assert doc["target_nouns"]["dns.coredns"] == "CoreDNS pods"


def test_a_wrong_token_is_exit_2_naming_url_and_status_and_never_the_token(recorded, prom_config, tmp_path,
                                                                           monkeypatch):
    with AuthProxy(recorded.url, "the-right-token-0123456789abcdef", echo=True) as proxy:
        monkeypatch.setenv("PROM_TOKEN", PROM_TOKEN)
        cfg = prom_config(proxy.url, '  headers: {Authorization: "Bearer ${PROM_TOKEN}"}\n')
        with pytest.raises(BadInput) as caught:
            read(cfg, "2020-05-27T08:00Z/2h")
    text = str(caught.value)
    assert f"{proxy.url}/api/v1/label/__name__/values: HTTP 401 Unauthorized" in text
    assert PROM_TOKEN not in text and "Pr0m-t0ken" not in text
    assert proxy.seen and proxy.seen[0] == f"Bearer {PROM_TOKEN}"  # it was sent, and refused


def test_the_right_token_from_a_token_file_reads_through_the_proxy(recorded, prom_config, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(PROM_TOKEN + "\n")
    with AuthProxy(recorded.url, PROM_TOKEN) as proxy:
        cfg = prom_config(proxy.url, f"  token_file: {token_file}\n", queries=False)
        snap = read(cfg, "2020-05-28T08:00Z/2h").snapshot
    assert {r.status for r in snap.results} == {"ok"} and len(snap.results) == 15
    assert PROM_TOKEN not in snap.to_json()


def test_a_hostile_server_echoing_the_token_in_an_error_body_never_shows_it(recorded, tmp_path):
    # A 500 whose body quotes the credentials: the error result keeps the reason, masked.
    with AuthProxy(recorded.url, "something-else-entirely-0123456789", echo=True, status=500) as proxy:
        client = PrometheusClient(proxy.url, {"Authorization": f"Bearer {PROM_TOKEN}"}, timeout_s=5, retries=0)
        cfg = load_config(str(_write(tmp_path, f"prometheus:\n  url: {proxy.url}\n")))
        got = collect(cfg.prometheus, parse_window("2020-05-28T08:00Z/1h", now=NOW), "x", client=client)
    text = got.snapshot.to_json()
    errors = {r.error for r in got.snapshot.results if r.status == "error"}
    assert len(errors) == 1 and "HTTP 500: token refused: ***" in errors.pop()
    assert PROM_TOKEN not in text and "Pr0m-t0ken" not in text


def _write(tmp_path, text: str):
    path = tmp_path / "triage-other.yaml"
    path.write_text(text)
    return path


def test_an_unreachable_prometheus_is_an_error_result_per_layer_with_the_reason(prom_config, tmp_path):
    from .prom_server import free_port

    cfg = prom_config(f"http://127.0.0.1:{free_port()}")
    done = usecases.probe(config_path=str(cfg), window="2020-05-27T08:00Z/2h", out=str(tmp_path / "s.json"), now=NOW)
    results = done.read.snapshot.results
    assert results and {r.status for r in results} == {"error"}
    assert {r.layer for r in results} == {"kernel", "dns", "kubernetes", "database", "app"}
    assert all("cannot read Prometheus" in r.error and "Connection refused" in r.error and "after 3 tries" in r.error
               for r in results)
    assert (tmp_path / "s.json").exists() and any("cannot read Prometheus" in p for p in done.problems)


def test_an_answer_over_the_size_bound_is_an_error_result(recorded, prom_config):
    cfg = load_config(str(prom_config(recorded.url, queries=False)))
    client = PrometheusClient(recorded.url, {}, timeout_s=5, max_bytes=300)
    got = collect(cfg.prometheus, parse_window("2020-05-28T08:00Z/2h", now=NOW), "x", client=client)
    assert {r.status for r in got.snapshot.results} == {"error"}
    assert "over the 300-byte bound" in got.snapshot.results[0].error


def test_an_answer_trickled_past_the_timeout_ends_the_try_a_server_that_never_stops_is_given_up():
    """requests' read timeout restarts with every byte: a body sent a byte every 0.2 s never
    trips a 1 s read timeout. The try's total deadline ends it, and the error says so."""
    from tests.app.http_server import Answer, ControlledServer, always
    from triage.sources.prometheus.client import PrometheusUnavailable

    with ControlledServer(always(Answer(body_size=200, trickle_s=0.2))) as slow:
        client = PrometheusClient(slow.url, {}, timeout_s=1, retries=1)
        with pytest.raises(PrometheusUnavailable) as caught:
            client.label_values("__name__", 0, 60)
        client.close()
    assert str(caught.value).endswith("no complete answer within 1s (after 2 tries)")
    assert [path.split("?")[0] for _, path, _ in slow.requests] == ["/api/v1/label/__name__/values"] * 2


def test_a_query_of_yours_that_prometheus_rejects_is_exit_2_naming_it(recorded, tmp_path):
    path = _write(tmp_path, f"prometheus:\n  url: {recorded.url}\n  profiles: [node]\n  queries:\n"
                            "    - {layer: app, probe: http, metric: x, promql: 'sum(rate(x[$block])'}\n")
    with pytest.raises(BadInput) as caught:
        read(path, "2020-05-28T08:00Z/1h")
    assert str(caught.value).startswith(f"{path}: prometheus.queries[0].promql: Prometheus rejected the query: ")
    assert "parse error" in str(caught.value)


def test_a_profile_asked_for_but_not_exported_is_a_skipped_result(recorded, tmp_path):
    path = _write(tmp_path, f"prometheus:\n  url: {recorded.url}\n  profiles: [node, postgres]\n")
    snap = read(path, "2020-05-28T08:00Z/1h").snapshot
    skipped = [r for r in snap.results if r.status == "skipped"]
    assert {(r.layer, r.probe) for r in skipped} == {("database", "postgres"), ("database", "postgres_server")}
    assert "no postgres_exporter metrics in the window" in skipped[0].error
    assert {r.layer for r in snap.results if r.status == "ok"} == {"kernel"}


def test_gate_against_a_stored_baseline_read_in_other_blocks_is_refused(recorded, prom_config, tmp_path):
    from triage.store import SnapshotStore

    cfg = prom_config(recorded.url, queries=False)
    store = tmp_path / "store"
    SnapshotStore(str(store)).save_snapshot("4.3.18", read(cfg, "2020-05-28T08:00Z/2h", "4.3.18").snapshot)
    report = str(tmp_path / "report.md")
    ok = usecases.gate(config_path=str(cfg), window="2020-05-28T06:00Z/2h", baseline="4.3.18",
                       judging=Judging(store=str(store)),
                       label="again", now=NOW, report_path=report)
    assert ok.result.comparison.verdict == "ok"
    other = prom_config(recorded.url, queries=False)
    other.write_text(other.read_text().replace("block: 5m", "block: 10m"))
    with pytest.raises(BadInput, match="read in 300 s blocks, this window in 600 s"):
        usecases.gate(config_path=str(other), window="2020-05-28T06:00Z/2h", baseline="4.3.18",
                      judging=Judging(store=str(store)),
                      now=NOW, report_path=report)
