"""The wire and system-path DNS probes against the real embedded server on loopback."""

from __future__ import annotations

import socket

import pytest

from triage.probes import dns as dns_probes
from triage.probes import GROUP_END, measure
from triage.probes.dns import DEAD_AFTER, WireTarget, getaddrinfo, resolve, run_wire_series
from triage.config import Config, DnsConfig, Target
from triage.runner import RunOptions, run_probes

from dns_helpers import by_metric, fixture_root, make_ctx


def test_resolve_records_one_sample_per_query_for_each_qtype(dns_server):
    srv = dns_server("healthy")
    ctx = make_ctx(samples=25, resolvers=(f"127.0.0.1:{srv.port}",), timeout_s=2.0)
    got = by_metric(resolve(WireTarget("db.quay.svc", f"127.0.0.1:{srv.port}"), ctx))

    for qtype in ("A", "AAAA"):
        assert len(got[f"latency_{qtype}"].values) == 25
        assert all(v > 0 for v in got[f"latency_{qtype}"].values)
        assert got[f"latency_{qtype}"].unit == "ms"
        for metric in ("timeouts", "servfail", "nxdomain", "refused", "tcp_fallback", "socket_errors"):
            m = got[f"{metric}_{qtype}"]
            assert (m.kind, m.events, m.trials) == ("proportion", 0, 25), metric
    assert got["resolver"].value == f"127.0.0.1:{srv.port}"
    assert got["query_mode"].value == "cached"
    assert srv.stats()["queries_by_qtype"] == {"A": 25, "AAAA": 25}
    assert ctx.notes == []


def test_dns_samples_overrides_the_run_sample_count(dns_server):
    srv = dns_server("healthy")
    ctx = make_ctx(samples=50, resolvers=(f"127.0.0.1:{srv.port}",), qtypes=("A",))
    ctx.config = Config(dns=DnsConfig(resolvers=(f"127.0.0.1:{srv.port}",), qtypes=("A",), samples=7))
    got = by_metric(resolve(WireTarget("db.quay.svc", f"127.0.0.1:{srv.port}"), ctx))
    assert len(got["latency_A"].values) == 7
    assert "latency_AAAA" not in got
    assert srv.stats()["queries_by_qtype"] == {"A": 7}


def test_dropped_aaaa_counts_as_timeouts_with_the_timeout_in_the_tail(dns_server):
    # seed: the server's drop decisions repeat, so the counts below are the same every run
    srv = dns_server("drop=30%:AAAA,seed=7")
    series, notes = run_wire_series(srv.host, srv.port, "db.quay.svc", ("A", "AAAA"), 40, 0.05)
    a, aaaa = series
    dropped = srv.stats()["dropped"]
    assert 0 < dropped < 40
    assert (a.trials, a.timeouts, len(a.latencies_ms)) == (40, 0, 40)
    assert (aaaa.trials, aaaa.timeouts, len(aaaa.latencies_ms)) == (40, dropped, 40)
    assert aaaa.latencies_ms.count(50.0) == dropped  # a timed-out query counts as its timeout
    assert sorted(aaaa.latencies_ms)[-dropped:] == [50.0] * dropped
    assert notes == []


def test_a_qtype_that_never_answers_stops_after_a_few_timeouts(dns_server):
    srv = dns_server("drop=100%:AAAA")
    ctx = make_ctx(samples=1000, resolvers=(f"127.0.0.1:{srv.port}",), timeout_s=0.02)
    got = by_metric(resolve(WireTarget("db.quay.svc", f"127.0.0.1:{srv.port}"), ctx))
    n = DEAD_AFTER
    assert (got["timeouts_AAAA"].events, got["timeouts_AAAA"].trials) == (n, n)
    assert got["latency_AAAA"].values == (20.0,) * n
    # A is answered throughout: only the dead qtype stops early
    assert (got["timeouts_A"].events, got["timeouts_A"].trials) == (0, 1000)
    assert len(got["latency_A"].values) == 1000
    assert any(note.startswith(f"AAAA: stopped after {n} of 1000") for note in ctx.notes)


def test_servfail_and_nxdomain_are_counted_per_query(dns_server):
    servfail = dns_server("servfail=100%")
    series, _ = run_wire_series(servfail.host, servfail.port, "db.quay.svc", ("A",), 12, 1.0)
    assert (series[0].servfail, series[0].nxdomain, series[0].trials) == (12, 0, 12)
    assert len(series[0].latencies_ms) == 12  # an answer, however bad, has a latency

    nx = dns_server("search-nxdomain", search_domains=("cluster.local",))
    series, _ = run_wire_series(nx.host, nx.port, "missing.cluster.local", ("A", "AAAA"), 9, 1.0)
    assert [(s.nxdomain, s.servfail, s.trials) for s in series] == [(9, 0, 9), (9, 0, 9)]
    series, _ = run_wire_series(nx.host, nx.port, "db.quay.svc", ("A",), 9, 1.0)
    assert series[0].nxdomain == 0


def test_truncated_replies_fall_back_to_tcp(dns_server):
    srv = dns_server("truncate")
    ctx = make_ctx(samples=6, resolvers=(f"127.0.0.1:{srv.port}",), timeout_s=2.0)
    got = by_metric(resolve(WireTarget("db.quay.svc", f"127.0.0.1:{srv.port}"), ctx))
    for qtype in ("A", "AAAA"):
        assert (got[f"tcp_fallback_{qtype}"].events, got[f"tcp_fallback_{qtype}"].trials) == (6, 6)
        assert got[f"timeouts_{qtype}"].events == 0
        assert len(got[f"latency_{qtype}"].values) == 6
    stats = srv.stats()
    assert (stats["udp"], stats["tcp"], stats["truncated"]) == (12, 12, 12)


def test_cache_miss_mode_asks_a_new_name_every_time(dns_server):
    # cold-cache counts each (name, qtype) the server sees for the first time
    cached = dns_server("cold-cache=1ms")
    run_wire_series(cached.host, cached.port, "db.quay.svc", ("A", "AAAA"), 10, 1.0)
    assert cached.stats()["cold_misses"] == 2

    missing = dns_server("cold-cache=1ms")
    series, _ = run_wire_series(missing.host, missing.port, "db.quay.svc", ("A", "AAAA"), 10, 1.0, cache_miss=True)
    assert missing.stats()["cold_misses"] == 20
    assert [(s.answered, s.timeouts) for s in series] == [(10, 0), (10, 0)]


def test_cache_miss_is_recorded_as_a_fact(dns_server):
    srv = dns_server("healthy")
    ctx = make_ctx(samples=3, resolvers=(f"127.0.0.1:{srv.port}",), cache_miss=True, qtypes=("A",))
    got = by_metric(resolve(WireTarget("db.quay.svc", f"127.0.0.1:{srv.port}"), ctx))
    assert got["query_mode"].value == "cache-miss"
    assert len(got["latency_A"].values) == 3


def test_a_silent_resolver_costs_a_few_timeouts_not_samples_times_timeout():
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # bound, never reads, never answers
    silent.bind(("127.0.0.1", 0))
    with silent:
        port = silent.getsockname()[1]
        series, notes = run_wire_series("127.0.0.1", port, "db.quay.svc", ("A", "AAAA"), 500, 0.01)
    n = DEAD_AFTER
    assert [(s.trials, s.timeouts, s.latencies_ms) for s in series] == [(n, n, [10.0] * n)] * 2
    assert len(notes) == 2


def test_a_closed_port_is_a_socket_error_and_its_latency_is_dropped_with_a_note():
    probe_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe_sock.bind(("127.0.0.1", 0))
    port = probe_sock.getsockname()[1]
    probe_sock.close()  # nothing listens there now: the kernel answers port unreachable
    ctx = make_ctx(samples=50, resolvers=(f"127.0.0.1:{port}",), qtypes=("A",), timeout_s=0.5)
    got = by_metric(resolve(WireTarget("db.quay.svc", f"127.0.0.1:{port}"), ctx))
    assert "latency_A" not in got
    assert got["socket_errors_A"].events == got["socket_errors_A"].trials == DEAD_AFTER
    assert got["timeouts_A"].events == 0
    assert any(n.startswith("latency_A dropped") and "refused" in n for n in ctx.notes)


def test_an_expired_deadline_stops_before_the_first_query(dns_server):
    srv = dns_server("healthy")
    ctx = make_ctx(samples=10, deadline_s=0.0, resolvers=(f"127.0.0.1:{srv.port}",), qtypes=("A",))
    got = by_metric(resolve(WireTarget("db.quay.svc", f"127.0.0.1:{srv.port}"), ctx))
    assert got["timeouts_A"].trials == 0
    assert "latency_A" not in got
    assert "deadline reached after 0 of 10 samples per qtype" in ctx.notes
    assert srv.stats()["queries"] == 0


def test_two_resolvers_become_two_targets_that_never_pool(dns_server):
    fast = dns_server("healthy", names=("db.quay.svc",))
    slow = dns_server("servfail=100%", names=("db.quay.svc",))
    config = Config(samples=8, dns=DnsConfig(resolvers=(f"127.0.0.1:{fast.port}", f"127.0.0.1:{slow.port}"),
                                             names=("db.quay.svc",), qtypes=("A",)))
    snap = run_probes(config, RunOptions(layers=("dns",)))
    resolve_results = {r.target: r for r in snap.results if r.probe == "resolve"}
    assert set(resolve_results) == {f"db.quay.svc@127.0.0.1:{fast.port}", f"db.quay.svc@127.0.0.1:{slow.port}"}
    fast_m = by_metric(resolve_results[f"db.quay.svc@127.0.0.1:{fast.port}"].measurements)
    slow_m = by_metric(resolve_results[f"db.quay.svc@127.0.0.1:{slow.port}"].measurements)
    assert (fast_m["servfail_A"].events, slow_m["servfail_A"].events) == (0, 8)
    assert fast.stats()["queries"] == slow.stats()["queries"] == 8
    # no "system" resolver configured: the getaddrinfo path is skipped, not sent anywhere
    gai = [r for r in snap.results if r.probe == "getaddrinfo"]
    assert [(r.status, r.error) for r in gai] == [("skipped", "dns.resolvers does not include 'system'")]


def test_names_come_from_dns_names_and_target_hosts_without_ip_literals():
    config = Config(
        dns=DnsConfig(names=("quay-db.quay.svc", "Extra.Name")),
        targets=(Target(name="registry", url="http://registry.quay.svc:8080/health"),
                 Target(name="db", dsn="postgresql://quay:secret@quay-db.quay.svc:5432/quay"),
                 Target(name="cache", host="redis.quay.svc", port=6379),
                 Target(name="local-app", url="http://127.0.0.1:8080/"),
                 Target(name="v6", host="::1", port=53),
                 Target(name="quiet", url="http://hidden.quay.svc/", fanout=False),
                 Target(name="dup", host="extra.name")))
    assert dns_probes.probe_names(config) == ["quay-db.quay.svc", "Extra.Name", "registry.quay.svc",
                                              "redis.quay.svc"]


def test_resolve_targets_name_name_and_resolver():
    config = Config(dns=DnsConfig(names=("a.svc",), resolvers=("system", "127.0.0.1", "127.0.0.2:5353", "::1")))
    assert [t for t, _ in dns_probes._resolve_targets(config)] == [
        "a.svc@system", "a.svc@127.0.0.1:53", "a.svc@127.0.0.2:5353", "a.svc@[::1]:53"]


@pytest.mark.parametrize("spec, expected", [
    ("127.0.0.1", ("127.0.0.1", 53)),
    ("127.0.0.1:5353", ("127.0.0.1", 5353)),
    ("::1", ("::1", 53)),
    ("[::1]:5353", ("::1", 5353)),
])
def test_parse_resolver(spec, expected):
    assert dns_probes.parse_resolver(spec) == expected


@pytest.mark.parametrize("spec", ["localhost", "127.0.0.1:0", "127.0.0.1:99999", "[::1]:x"])
def test_parse_resolver_refuses_what_is_not_an_address(spec):
    with pytest.raises(ValueError, match="expected 'system' or IP"):
        dns_probes.parse_resolver(spec)


def test_no_names_skips_the_wire_probe_with_a_reason():
    snap = run_probes(Config(dns=DnsConfig(resolvers=("127.0.0.1:9",))), RunOptions(layers=("dns",)))
    resolve_results = [r for r in snap.results if r.probe == "resolve"]
    assert [(r.status, r.error) for r in resolve_results] == [
        ("skipped", "no names to resolve: set dns.names or give targets a host")]


def test_getaddrinfo_takes_the_system_path_from_several_threads():
    # A numeric host goes through getaddrinfo without any lookup: the system path, and no
    # packet can leave this machine whatever its /etc/hosts or resolv.conf say.
    ctx = make_ctx(samples=40, resolvers=("system",), concurrency=4)
    got = by_metric(getaddrinfo("127.0.0.1", ctx))
    assert len(got["latency"].values) == 40
    assert (got["failures"].events, got["failures"].trials) == (0, 40)
    assert (got["temporary_failures"].events, got["temporary_failures"].trials) == (0, 40)
    assert ctx.notes == []


def test_getaddrinfo_with_an_expired_deadline_looks_nothing_up():
    ctx = make_ctx(samples=40, deadline_s=0.0, resolvers=("system",))
    got = by_metric(getaddrinfo("127.0.0.1", ctx))
    assert "latency" not in got
    assert got["failures"].trials == 0
    assert ctx.notes == ["deadline reached after 0 of 40 lookups"]


def test_getaddrinfo_raises_for_a_name_that_cannot_be_encoded():
    ctx = make_ctx(samples=5, resolvers=("system",))
    with pytest.raises(UnicodeError):
        measure(getaddrinfo, "a" * 70 + ".example", ctx)  # a label over 63 characters: IDNA refuses it


def test_expansion_reads_the_recorded_resolv_conf_through_etc_root():
    ctx = make_ctx(etc_root=fixture_root("openshift-4.3-pod"))
    facts = by_metric(dns_probes.expansion(None, ctx))
    assert facts["nameservers"].value == ["172.30.0.10"]
    assert facts["search"].value == ["quay.svc.cluster.local", "svc.cluster.local", "cluster.local", "ec2.internal"]
    assert (facts["ndots"].value, facts["timeout"].value, facts["attempts"].value) == (5, 5, 2)
    assert facts["options"].value == ["ndots:5"]
    cost = by_metric(dns_probes.expansion("quay-db.quay.svc", ctx))
    assert (cost["queries_worst"].value, cost["queries_found"].value) == (10, 10)
    assert cost["queries_worst"].unit == "queries"
    fqdn = by_metric(dns_probes.expansion("quay-db.quay.svc.cluster.local.", ctx))
    assert (fqdn["queries_worst"].value, fqdn["queries_found"].value) == (2, 2)


def test_system_resolver_is_the_first_nameserver_of_resolv_conf(tmp_path, dns_server):
    # resolv.conf cannot carry a port, so the embedded server cannot stand in for the
    # system resolver here; a refused loopback port shows which address was asked.
    (tmp_path / "resolv.conf").write_text("nameserver 127.0.0.1\nnameserver 127.0.0.2\n")
    ctx = make_ctx(samples=3, etc_root=str(tmp_path), resolvers=("system",), qtypes=("A",), timeout_s=0.2)
    got = by_metric(resolve(WireTarget("db.quay.svc", "system"), ctx))
    assert got["resolver"].value == "127.0.0.1:53"
    assert ctx.notes[0] == f"system resolver: 127.0.0.1:53, the first of 2 nameservers in {tmp_path}/resolv.conf"


def test_named_resolver_keeps_metrics_comparable_across_addresses():
    from triage.probes.dns import _resolve_targets
    from triage.config import parse_config

    a = parse_config("dns:\n  resolvers: ['cluster-dns=127.0.0.1:5301']\n  names: [db.quay.svc]\n", "a.yaml")
    b = parse_config("dns:\n  resolvers: ['cluster-dns=127.0.0.1:5302']\n  names: [db.quay.svc]\n", "b.yaml")
    (name_a, target_a), = _resolve_targets(a)
    (name_b, target_b), = _resolve_targets(b)
    assert name_a == name_b == "db.quay.svc@cluster-dns"
    assert (target_a.resolver, target_b.resolver) == ("127.0.0.1:5301", "127.0.0.1:5302")


def test_named_resolver_records_its_address_as_a_note_not_a_fact(dns_server):
    import time as _time

    server = dns_server()

    from triage.probes import ProbeContext
    from triage.probes.dns import resolve, _resolve_targets
    from triage.config import parse_config

    cfg = parse_config(f"dns:\n  resolvers: ['cluster-dns=127.0.0.1:{server.port}']\n  names: [db.quay.svc]\n"
                       "  qtypes: [A]\n", "t.yaml")
    (_, target), = _resolve_targets(cfg)
    ctx = ProbeContext(config=cfg, samples=10, deadline=_time.monotonic() + 30)
    got = by_metric(resolve(target, ctx))
    assert "resolver" not in got
    assert len(got["latency_A"].values) == 10
    assert f"resolver address 127.0.0.1:{server.port}" in ctx.notes


def test_each_group_of_the_wire_probe_asks_from_a_new_socket():
    from dns_helpers import RecordingResolver

    with RecordingResolver() as server:
        ctx = make_ctx(samples=12, resolvers=(f"127.0.0.1:{server.port}",), groups=4)
        got = by_metric(resolve(WireTarget("db.quay.svc", f"127.0.0.1:{server.port}"), ctx))
    ports = [port for port, _, _ in server.asked]
    # 4 groups of 3 rounds (A, AAAA): each group's 6 queries from one source port, a new one per group.
    runs = [ports[i:i + 6] for i in range(0, 24, 6)]
    assert len(ports) == 24 and all(len(set(r)) == 1 for r in runs)
    assert len({r[0] for r in runs}) == 4
    assert [qtype for _, _, qtype in server.asked] == ["A", "AAAA"] * 12
    assert got["latency_A"].groups == got["latency_AAAA"].groups == (3, 3, 3, 3)


def test_timeouts_and_failures_of_all_qtypes_together_name_their_resolver(dns_server):
    srv = dns_server("drop=30%:AAAA,seed=7")
    ctx = make_ctx(samples=40, resolvers=(f"127.0.0.1:{srv.port}",), timeout_s=0.05)
    got = by_metric(resolve(WireTarget("db.quay.svc", f"127.0.0.1:{srv.port}", label="cluster-dns"), ctx))
    dropped = srv.stats()["dropped"]
    assert 0 < dropped < 40
    assert (got["timeouts_AAAA"].events, got["timeouts_A"].events) == (dropped, 0)
    for metric in ("timeouts", "failures"):
        m = got[metric]
        assert (m.kind, m.events, m.trials) == ("proportion", dropped, 80)
        assert m.extra == {"combine": "cluster-dns"}
    # Every lost query's cost is in the latency: a sample at the timeout, in its group.
    assert got["latency_AAAA"].values.count(50.0) == dropped
    assert sum(got["latency_AAAA"].groups) == 40


def test_the_runner_interleaves_the_groups_of_every_name_asked():
    from dns_helpers import RecordingResolver

    with RecordingResolver() as server:
        cfg = Config(groups=3, spread_s=0, dns=DnsConfig(resolvers=(f"lab=127.0.0.1:{server.port}",),
                                                         names=("one.example", "two.example"), qtypes=("A",)))
        snap = run_probes(cfg, RunOptions(layers=("dns",), samples=6))
    names = [name for _, name, _ in server.asked]
    # Group by group, name by name: one.example's three groups are spread over the run.
    assert names == ["one.example"] * 2 + ["two.example"] * 2 + ["one.example"] * 2 + ["two.example"] * 2 \
        + ["one.example"] * 2 + ["two.example"] * 2
    resolve_results = {r.target: r for r in snap.results if r.probe == "resolve"}
    assert set(resolve_results) == {"one.example@lab", "two.example@lab"}
    for r in resolve_results.values():
        assert r.status == "ok", r.error
        combined = next(m for m in r.measurements if m.metric == "timeouts")
        assert combined.extra == {"combine": "lab"} and combined.trials == 6


def test_getaddrinfo_takes_its_lookups_in_groups():
    ctx = make_ctx(samples=20, resolvers=("system",), concurrency=4, groups=6)
    items = list(getaddrinfo("127.0.0.1", ctx))
    assert sum(item is GROUP_END for item in items) == 5
    got = by_metric(items)
    assert got["latency"].groups == (4, 4, 3, 3, 3, 3)
