"""The one DNS client (triage.dns_client): the stub resolver's resolv.conf semantics and the
parallel exchange, counted by the real embedded server on loopback; failures to reach a
server are outcomes, never exceptions."""

from __future__ import annotations

import dns.message

from triage.dns_client import Reply, StubResolver, WireClient
from triage.repro.dns_profile import parse_profile
from triage.repro.dns_server import EmbeddedDnsServer
from triage.repro.dns_sides import profile_conf
from triage.resolvconf import parse_resolv_conf

from tests.net_helpers import closed_udp_port


def stub_for(server, spec="healthy") -> StubResolver:
    return StubResolver(profile_conf(parse_profile(spec), server.host), server.port)


def test_stub_reads_resolv_conf_as_glibc_does():
    conf = parse_resolv_conf("# comment\nnameserver 10.0.0.10\nnameserver fe80::1%eth0\nsearch a.svc b.svc.\n"
                             "options ndots:5 timeout:2 attempts:3 rotate\n")
    stub = StubResolver(conf)
    assert stub.nameservers == ("10.0.0.10", "fe80::1%eth0") and stub.port == 53
    assert (conf.ndots, stub.timeout_s, stub.attempts) == (5, 2, 3)
    assert conf.candidates("db.quay") == ["db.quay.a.svc.", "db.quay.b.svc.", "db.quay."]
    assert parse_resolv_conf("options ndots:1\nsearch x\n").candidates("a.b") == ["a.b.", "a.b.x."]
    assert conf.candidates("abs.name.") == ["abs.name."]
    # glibc's floor: timeout and attempts of 0 count as 1; no nameserver means 127.0.0.1
    bare = StubResolver(parse_resolv_conf("options timeout:0 attempts:0\n"))
    assert (bare.nameservers, bare.timeout_s, bare.attempts) == (("127.0.0.1",), 1, 1)


def test_stub_healthy_lookup_costs_one_pair_of_queries():
    with EmbeddedDnsServer() as srv:
        outcome = stub_for(srv).resolve("db.quay.svc")
        stats = srv.stats()
    assert outcome.ok and not outcome.timed_out and outcome.queries == 2 and outcome.error is None
    assert stats["queries_by_qtype"] == {"A": 1, "AAAA": 1}


def test_stub_walks_the_search_list_on_nxdomain():
    with EmbeddedDnsServer(profile="search-nxdomain") as srv:
        outcome = stub_for(srv, "search-nxdomain").resolve("db.quay.svc")
        stats = srv.stats()
    # ndots:5 and three search domains: three NXDOMAIN pairs, then the absolute name answers.
    assert outcome.ok and outcome.queries == 8
    assert stats["queries"] == 8 and stats["nxdomain"] == 6 and stats["answered"] == 2


def test_no_tld_query_skips_the_bare_name_after_the_search_list():
    search = ("a.test", "b.test")
    text = "nameserver 127.0.0.1\nsearch a.test b.test\noptions ndots:1{}\n"
    with EmbeddedDnsServer(profile="search-nxdomain", search_domains=search) as srv:
        skipped = StubResolver(parse_resolv_conf(text.format(" no-tld-query")), srv.port).resolve("db")
        after_skipped = srv.stats()
        asked = StubResolver(parse_resolv_conf(text.format("")), srv.port).resolve("db")
        after_asked = srv.stats()
    # no-tld-query: db.a.test and db.b.test (NXDOMAIN each, A and AAAA), never "db." itself
    assert not skipped.ok and skipped.error == "not found" and skipped.queries == 4
    assert after_skipped["nxdomain"] == 4 and after_skipped["answered"] == 0
    # without it glibc asks "db." last, which the zone answers
    assert asked.ok and asked.queries == 6
    assert after_asked["nxdomain"] == 8 and after_asked["answered"] == 2


def test_stub_retries_over_tcp_on_truncation():
    with EmbeddedDnsServer(profile="truncate") as srv:
        outcome = stub_for(srv).resolve("t.example")
        stats = srv.stats()
    assert outcome.ok and outcome.queries == 4
    assert stats["udp"] == 2 and stats["tcp"] == 2 and stats["truncated"] == 2


def test_stub_counts_a_timeout_and_still_returns_the_a_record():
    # AAAA never answered: after the 1 s resolver timeout the lookup succeeds on A alone,
    # as glibc's does, and says it waited out a timeout.
    with EmbeddedDnsServer(profile="aaaa-blackhole") as srv:
        outcome = stub_for(srv, "timeout=1,attempts=1").resolve("x.example")
        stats = srv.stats()
    assert outcome.ok and outcome.timed_out and outcome.queries == 2
    assert stats["dropped_by_reason"] == {"aaaa_blackhole": 1}


def test_stub_gives_up_on_servfail_everywhere():
    with EmbeddedDnsServer(profile="servfail=100%") as srv:
        outcome = stub_for(srv).resolve("db.quay.svc")
    assert not outcome.ok and not outcome.timed_out and outcome.queries == 8 and outcome.error == "SERVFAIL"


def test_nothing_listening_is_a_failed_lookup_at_once_not_a_timeout():
    conf = parse_resolv_conf("nameserver 127.0.0.1\noptions ndots:1 timeout:5 attempts:2\n")
    outcome = StubResolver(conf, closed_udp_port()).resolve("db.quay.svc")
    # the pair went out and ICMP port unreachable came back: no wait, and not asked again
    assert not outcome.ok and not outcome.timed_out
    assert outcome.error == "ConnectionRefusedError: Connection refused"
    assert outcome.queries == 2


def test_exchange_pairs_replies_with_their_queries_and_reports_refusal():
    queries = [dns.message.make_query("db.quay.svc", qtype).to_wire() for qtype in ("A", "AAAA")]
    with EmbeddedDnsServer() as srv:
        with WireClient(srv.host, srv.port, 1.0) as client:
            replies = client.exchange(queries)
            assert client.sent == 2
    assert replies == [Reply(rcode=0, answers=1), Reply(rcode=0, answers=1)]
    with WireClient("127.0.0.1", closed_udp_port(), 1.0) as client:
        refused = client.exchange(queries)
    assert [r.error for r in refused] == ["ConnectionRefusedError: Connection refused"] * 2
    assert not any(r.timed_out for r in refused)
