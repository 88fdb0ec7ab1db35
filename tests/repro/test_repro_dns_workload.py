"""The workload engine: whole runs bounded by --max-queries / a short --duration (shapes and
counts, no timings), against the embedded server or a resolver given by address. The wire
stub's own resolv.conf semantics are tested with the client, in tests/dns/test_dns_client.py."""

from __future__ import annotations

import pytest

from triage.errors import BadInput
from triage.model import Snapshot
from triage.repro import netns
from triage.repro.snapshot_files import percentiles
from triage.repro.dns_repro import run_dns_repro
from triage.repro.dns_server import EmbeddedDnsServer
from triage.repro.dns_workload import WorkloadOptions, run_workload

SIDE_KEYS = {"profile", "lookup_ms", "timeouts", "queries_per_lookup", "request_ms", "pool_wait_ms", "pool_peak"}
QUANTILES = {"p50", "p95", "p99", "max"}


def test_percentiles_interpolate_like_numpy():
    assert percentiles([]) == {"p50": None, "p95": None, "p99": None, "max": None}
    got = percentiles([float(v) for v in range(1, 101)])
    assert got == {"p50": 50.5, "p95": 95.05, "p99": 99.01, "max": 100.0}


@pytest.mark.parametrize("text, expected", [("10.0.0.10", ("10.0.0.10", 53)), ("127.0.0.1:5353", ("127.0.0.1", 5353)),
                                            ("[::1]:53", ("::1", 53)), ("::1", ("::1", 53))])
def test_resolver_address(text, expected):
    assert WorkloadOptions(resolver=text).resolver_address() == expected


@pytest.mark.parametrize("text", ["dns.example", "10.0.0.1:99999", "[::1]x"])
def test_resolver_address_rejects(text):
    with pytest.raises(BadInput, match="--resolver"):
        WorkloadOptions(resolver=text).resolver_address()
    with pytest.raises(BadInput, match="--resolver"):
        WorkloadOptions(resolver=text).validate()


def test_wire_run_has_the_json_shape_and_stops_at_max_queries():
    options = WorkloadOptions(path="wire", duration_s=30, max_queries=60, rate=0, workers=2, pool_size=1, hold_ms=0)
    report = run_dns_repro(["healthy", "delay=1ms"], options)
    doc = report.to_json_dict()
    assert doc["path"] == "wire" and [s["profile"] for s in doc["sides"]] == ["healthy", "delay=1ms"]
    for side in doc["sides"]:
        assert SIDE_KEYS <= set(side)
        for key in ("lookup_ms", "request_ms", "pool_wait_ms"):
            assert set(side[key]) == QUANTILES and all(v is not None for v in side[key].values())
        assert side["stopped_by"] == "max-queries"
        assert side["queries_per_lookup"] == 2.0
        assert side["pool_peak"] == 1 and side["timeouts"] == 0 and side["failures"] == 0
    slow = report.sides[1].server_stats
    assert slow["delayed"] == slow["queries"]  # every reply of the delay side was scheduled late
    assert report.sides[0].server_stats["delayed"] == 0


def test_wire_run_against_an_explicit_resolver_counts_its_queries():
    with EmbeddedDnsServer(names=("db.quay.svc",)) as srv:
        options = WorkloadOptions(names=("db.quay.svc",), path="wire", resolver=f"{srv.host}:{srv.port}",
                                  duration_s=30, max_queries=40, rate=0, workers=1, pool_size=1, hold_ms=0)
        report = run_dns_repro(["ndots=1"], options)
        served = srv.stats()["queries"]
    side = report.sides[0]
    assert report.target == f"resolver {srv.host}:{srv.port}"
    assert side.queries == 2 * side.lookups
    assert served == side.queries + 2  # plus the warm-up lookup's pair


def test_faults_are_refused_against_a_real_resolver():
    with pytest.raises(BadInput, match="server faults need the embedded server"):
        run_dns_repro(["delay=3ms"], WorkloadOptions(resolver="127.0.0.1:53", path="wire"))


@pytest.mark.parametrize("changes, fragment", [
    ({"workers": 0}, "--workers"), ({"duration_s": 0}, "--duration"), ({"path": "magic"}, "--path"),
    ({"names": ("bad name",)}, "--names"), ({"names": ("a" * 64 + ".example",)}, "--names"),
    ({"resolver": "1.2.3.4", "system": True}, "pick one"),
])
def test_bad_options(changes, fragment):
    fields = {"duration_s": 1.0, **changes}
    with pytest.raises(BadInput, match=fragment):
        run_dns_repro(["healthy"], WorkloadOptions(**fields))


def test_a_resolver_that_raises_stops_the_side_and_is_reraised():
    # a bug in a resolution path is a crash, never a side with fewer requests
    def broken(name):
        raise KeyError(name)

    options = WorkloadOptions(duration_s=60, rate=0, workers=2, pool_size=1, hold_ms=0)
    with pytest.raises(KeyError, match="db.quay.svc"):
        run_workload("healthy", options, broken, lambda: 0, 1.0)


def test_saved_snapshots_load_and_carry_both_layers(tmp_path):
    options = WorkloadOptions(path="wire", duration_s=30, max_queries=30, rate=0, workers=1, pool_size=1, hold_ms=1)
    report = run_dns_repro(["healthy", "search-nxdomain"], options, save_dir=str(tmp_path / "snaps"))
    assert [p.rsplit("/", 1)[1] for p in report.saved] == ["1-healthy.json", "2-search-nxdomain.json"]
    snaps = [Snapshot.load(p) for p in report.saved]
    assert [s.label for s in snaps] == ["healthy", "search-nxdomain"]
    for snap, side in zip(snaps, report.sides):
        by = {(r.layer, r.probe): r for r in snap.results}
        dns_metrics = {m.metric: m for m in by[("dns", "repro")].measurements}
        app_metrics = {m.metric: m for m in by[("app", "repro_request")].measurements}
        assert len(dns_metrics["latency"].values) == side.lookups
        assert dns_metrics["timeouts"].trials == side.lookups
        assert app_metrics["pool_peak"].value == 1
        assert len(app_metrics["latency"].values) == side.requests
        assert by[("dns", "repro")].target == "embedded"
    qpl = [{m.metric: m for m in s.results[0].measurements}["queries_per_lookup"].value for s in snaps]
    assert qpl == [2.0, 8.0]


libc_ok, libc_reason = netns.available(net=True)


@pytest.mark.skipif(not libc_ok, reason=f"libc path unavailable here: {libc_reason}")
def test_libc_path_runs_real_glibc_against_the_embedded_server():
    options = WorkloadOptions(path="libc", duration_s=30, max_queries=200, rate=0, workers=2, pool_size=2, hold_ms=0)
    report = run_dns_repro(["healthy", "search-nxdomain"], options)
    assert report.path == "libc"
    healthy, nx = report.sides
    # glibc asks A and AAAA for the first search candidate, which the wildcard zone answers;
    # with search-nxdomain it walks three search domains before the absolute name.
    # (the server's own counts also include the unmeasured warm-up lookup)
    assert healthy.queries == 2 * healthy.lookups
    assert healthy.server_stats["queries_by_qtype"] == {"A": healthy.lookups + 1, "AAAA": healthy.lookups + 1}
    assert nx.queries == 8 * nx.lookups and nx.server_stats["nxdomain"] == 6 * (nx.lookups + 1)
    assert healthy.failures == 0 and nx.failures == 0 and healthy.lookups > 0
    assert all(s.stopped_by == "max-queries" for s in report.sides)
