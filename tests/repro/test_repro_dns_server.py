"""The embedded DNS server, each fault checked by its effect on real queries and by counts."""

from __future__ import annotations

import socket
import time

import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest

from triage.errors import BadInput
from triage.repro.dns_server import EmbeddedDnsServer, synthetic_a, synthetic_aaaa
from triage.repro.dns_server_process import ServerProcess

SEARCH = ("quay.svc.cluster.local", "svc.cluster.local", "cluster.local")


def addresses(reply) -> list[str]:
    return [rdata.to_text() for rrset in reply.answer for rdata in rrset]


def test_healthy_answers_a_and_aaaa_deterministically_over_udp_and_tcp(client_for):
    with EmbeddedDnsServer(names=("db.quay.svc",)) as srv:
        client = client_for(srv)
        a = client.ask("db.quay.svc", "A")
        aaaa = client.ask("anything.example", "AAAA")
        tcp = dns.query.tcp(dns.message.make_query("db.quay.svc", "A"), srv.host, port=srv.port, timeout=5)
        mx = client.ask("db.quay.svc", "MX")
        stats = srv.stats()
    assert addresses(a) == [synthetic_a("db.quay.svc")]
    assert addresses(tcp) == addresses(a)
    assert addresses(aaaa) == [synthetic_aaaa("anything.example")]
    assert synthetic_a("db.quay.svc") != synthetic_a("cache.quay.svc")
    assert synthetic_a("db.quay.svc").startswith("127.")
    assert mx.rcode() == dns.rcode.NOERROR and mx.answer == [] and mx.authority
    assert stats["queries"] == 4 and stats["udp"] == 3 and stats["tcp"] == 1
    assert stats["queries_by_qtype"] == {"A": 2, "AAAA": 1, "MX": 1}
    assert stats["answered"] == 4 and stats["dropped"] == 0 and stats["delayed"] == 0


def test_delay_is_scheduled_not_slept_and_counted(client_for):
    with EmbeddedDnsServer(profile="delay=5ms") as srv:
        client = client_for(srv)
        for i in range(3):
            assert addresses(client.ask(f"n{i}.example", "A")) == [synthetic_a(f"n{i}.example")]
        stats = srv.stats()
    assert stats["delayed"] == 3
    assert stats["delay_ms_scheduled"] == pytest.approx(15.0)


def test_delayed_reply_does_not_hold_up_the_next_query(client_for):
    # NXDOMAIN for search-suffixed names is delayed 60 s; the A asked after it is answered at
    # once, which proves the receive loop schedules delays instead of sleeping.
    with EmbeddedDnsServer(profile="search-nxdomain=60s", search_domains=SEARCH) as srv:
        client = client_for(srv)
        client.send("db.quay.svc.quay.svc.cluster.local", "A")
        fast = client.ask("fast.example", "A")
        mid = srv.stats()
    assert addresses(fast) == [synthetic_a("fast.example")]
    assert mid["in_flight"] == 1 and mid["nxdomain"] == 1
    assert srv.stats()["unsent_at_stop"] == 1


def test_jitter_is_reproducible_with_a_seed(client_for):
    totals = []
    for _ in range(2):
        with EmbeddedDnsServer(profile="jitter=pareto:1ms,seed=7") as srv:
            client = client_for(srv)
            for i in range(20):
                client.ask(f"j{i}.example")
            totals.append(srv.stats()["delay_ms_scheduled"])
    assert totals[0] == totals[1] > 0


def test_drop_per_qtype_drops_only_that_qtype(client_for):
    with EmbeddedDnsServer(profile="drop=100%:AAAA") as srv:
        client = client_for(srv)
        client.send("x.example", "AAAA")
        a = client.ask("x.example", "A")  # processed after the AAAA: the AAAA's fate is known
        stats = srv.stats()
    assert addresses(a) == [synthetic_a("x.example")]
    assert stats["dropped"] == 1 and stats["dropped_by_reason"] == {"drop": 1}
    assert stats["answered"] == 1


def test_partial_drop_with_seed_drops_some_and_repeats(client_for):
    counts = []
    for _ in range(2):
        with EmbeddedDnsServer(profile="drop=30%:A,seed=3") as srv:
            client = client_for(srv)
            for i in range(200):
                client.send(f"d{i}.example", "A")
            client.ask("sync.example", "MX")  # same socket, after all 200: they were handled
            stats = srv.stats()
        counts.append(stats["dropped_by_reason"].get("drop", 0))
        assert stats["queries_by_qtype"]["A"] == 200
    assert 20 < counts[0] < 110
    assert counts[0] == counts[1]


def test_aaaa_blackhole(client_for):
    with EmbeddedDnsServer(profile="aaaa-blackhole") as srv:
        client = client_for(srv)
        client.send("b.example", "AAAA")
        client.ask("b.example", "A")
        stats = srv.stats()
    assert stats["dropped_by_reason"] == {"aaaa_blackhole": 1}


def test_search_nxdomain_only_for_unconfigured_search_suffixed_names(client_for):
    with EmbeddedDnsServer(profile="search-nxdomain=2ms,neg-ttl=7", names=("db.quay.svc.cluster.local",),
                           search_domains=SEARCH) as srv:
        client = client_for(srv)
        expanded = client.ask("db.quay.svc.quay.svc.cluster.local", "A")
        configured = client.ask("db.quay.svc.cluster.local", "A")
        absolute = client.ask("db.quay.svc", "A")
        stats = srv.stats()
    assert expanded.rcode() == dns.rcode.NXDOMAIN
    assert expanded.authority[0].ttl == 7
    assert configured.rcode() == dns.rcode.NOERROR and addresses(configured)
    assert absolute.rcode() == dns.rcode.NOERROR and addresses(absolute)
    assert stats["nxdomain"] == 1 and stats["delayed"] == 1 and stats["delay_ms_scheduled"] == pytest.approx(2.0)


def test_servfail(client_for):
    with EmbeddedDnsServer(profile="servfail=100%") as srv:
        reply = client_for(srv).ask("s.example")
        stats = srv.stats()
    assert reply.rcode() == dns.rcode.SERVFAIL
    assert stats["servfail"] == 1 and stats["answered"] == 0


def test_truncate_sets_tc_on_udp_and_tcp_answers(client_for):
    with EmbeddedDnsServer(profile="truncate") as srv:
        udp = client_for(srv).ask("t.example")
        tcp = dns.query.tcp(dns.message.make_query("t.example", "A"), srv.host, port=srv.port, timeout=5)
        stats = srv.stats()
    assert udp.flags & dns.flags.TC and udp.answer == []
    assert not tcp.flags & dns.flags.TC and addresses(tcp) == [synthetic_a("t.example")]
    assert stats["truncated"] == 1 and stats["answered"] == 1


def test_overload_servfails_the_excess_while_replies_are_in_flight(client_for):
    with EmbeddedDnsServer(profile="overload=2:servfail,delay=60s") as srv:
        client = client_for(srv)
        client.send("o1.example")
        client.send("o2.example")
        third = client.ask("o3.example")
        stats = srv.stats()
    assert third.rcode() == dns.rcode.SERVFAIL
    assert stats["in_flight"] == 2 and stats["in_flight_peak"] == 2
    assert stats["overload"] == 1 and stats["servfail"] == 1
    assert srv.stats()["unsent_at_stop"] == 2


def test_overload_drops_the_excess_by_default(client_for):
    with EmbeddedDnsServer(profile="overload=1,delay=60s") as srv:
        client = client_for(srv)
        client.send("o1.example")
        client.send("o2.example")
        client.send("o3.example")
        deadline = time.monotonic() + 10
        while srv.stats()["queries"] < 3 and time.monotonic() < deadline:
            pass  # wait for the server to have read all three datagrams (no sleep, no guess)
        stats = srv.stats()
    assert stats["queries"] == 3
    assert stats["in_flight"] == 1
    assert stats["dropped_by_reason"] == {"overload": 2} and stats["servfail"] == 0


def test_clash_drops_the_second_query_from_the_same_source_port(client_for):
    with EmbeddedDnsServer(profile="clash=60s") as srv:
        client = client_for(srv)
        client.send("c.example", "A")
        client.send("c.example", "AAAA")  # same socket, same source port: the clash
        other = client_for(srv).ask("c.example", "AAAA")  # another port: answered
        stats = srv.stats()
    assert addresses(other) == [synthetic_aaaa("c.example")]
    assert stats["dropped_by_reason"] == {"clash": 1}
    assert stats["answered"] == 2


def test_cold_cache_slows_only_the_first_lookup_of_a_name(client_for):
    with EmbeddedDnsServer(profile="cold-cache=3ms") as srv:
        client = client_for(srv)
        client.ask("cold.example")
        client.ask("cold.example")
        client.ask("cold.example", "AAAA")
        stats = srv.stats()
    assert stats["cold_misses"] == 2 and stats["delayed"] == 2
    assert stats["delay_ms_scheduled"] == pytest.approx(6.0)


def test_garbage_is_counted_and_the_server_keeps_answering(client_for):
    with EmbeddedDnsServer() as srv:
        client = client_for(srv)
        client.sock.send(b"\x00\x01not dns at all")
        reply = client.ask("after.example")
        stats = srv.stats()
    assert addresses(reply) and stats["malformed"] == 1


def test_non_loopback_bind_is_refused_without_confirmation():
    with pytest.raises(BadInput, match="not a loopback address"):
        EmbeddedDnsServer(bind="0.0.0.0")


def test_stop_releases_the_port():
    srv = EmbeddedDnsServer().start()
    port = srv.port
    srv.stop()
    with EmbeddedDnsServer(port=port) as again:
        assert again.port == port
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", port))
    probe.close()


def test_server_process_answers_and_reports_stats(client_for):
    with ServerProcess(profile="delay=1ms", names=("db.quay.svc",)) as srv:
        reply = client_for(srv).ask("db.quay.svc", "A")
        live = srv.stats()
    final = srv.stop()
    assert addresses(reply) == [synthetic_a("db.quay.svc")]
    assert live["queries"] == 1 and live["delayed"] == 1
    assert final is None  # already stopped by the context manager
