"""resolv.conf parsing (recorded files) and the queries one lookup costs under glibc rules."""

from __future__ import annotations

import os

import pytest

from triage.probes.dns import read_resolv_conf
from triage.resolvconf import (LookupCost, ResolvConf, apply_resolver_environment, parse_resolv_conf,
                               queries_per_lookup, search_order)

from dns_helpers import fixture_root, make_ctx

K8S_SEARCH = ("quay.svc.cluster.local", "svc.cluster.local", "cluster.local")


def recorded(name: str) -> ResolvConf:
    with open(os.path.join(fixture_root(name), "resolv.conf"), encoding="utf-8") as fh:
        return parse_resolv_conf(fh.read())


def test_openshift_pod_has_the_kubernetes_search_list_and_ndots_5():
    conf = recorded("openshift-4.3-pod")
    assert conf.nameservers == ("172.30.0.10",)
    assert conf.search == K8S_SEARCH + ("ec2.internal",)
    assert (conf.ndots, conf.timeout, conf.attempts) == (5, 5, 2)
    assert conf.options == ("ndots:5",)


def test_host_file_comments_last_search_wins_three_nameservers_and_options_lines_accumulate():
    conf = recorded("rhel-host")
    assert conf.search == ("corp.example.com", "example.com")  # domain line first, search line last: search wins
    assert conf.nameservers == ("10.11.5.19", "10.5.30.160", "10.11.5.20")
    assert conf.ignored_nameservers == ("10.11.5.21",)
    assert (conf.ndots, conf.timeout, conf.attempts) == (1, 1, 3)
    assert conf.options == ("timeout:1", "attempts:3", "rotate", "single-request-reopen")


def test_systemd_resolved_stub():
    conf = recorded("systemd-resolved-stub")
    assert conf.nameservers == ("127.0.0.53",)
    assert conf.search == (".",)
    assert conf.options == ("edns0", "trust-ad")


def test_values_past_glibc_limits_are_clamped_and_malformed_numbers_are_atoi():
    conf = recorded("clamped-options")
    assert conf.nameservers == ("192.0.2.53",)  # tab after the keyword, trailing text ignored
    assert conf.timeout == 30 and conf.attempts == 0
    assert conf.ndots == 0  # ndots:20 clamps to 15, then ndots:x is atoi("x") == 0
    assert conf.no_tld_query


def test_a_file_of_comments_gives_glibc_defaults():
    assert recorded("empty") == ResolvConf()
    assert (ResolvConf().ndots, ResolvConf().timeout, ResolvConf().attempts) == (1, 5, 2)


@pytest.mark.parametrize("text, nameservers, search", [
    ("  nameserver 10.0.0.1\n", (), ()),                    # keywords only at the start of a line
    ("nameserver10.0.0.1\n", (), ()),                        # keyword must be followed by a blank
    ("nameserver not-an-ip\nnameserver ::1\n", ("::1",), ()),
    ("nameserver fe80::1%eth0\n", ("fe80::1%eth0",), ()),
    ("search a b\ndomain c d\n", (), ("c",)),                # domain takes one word, last line wins
    ("search a b\nsearch\n", (), ("a", "b")),                # an empty search line changes nothing
    ("# search x\n; nameserver 10.0.0.9\nsearch y\n", (), ("y",)),
])
def test_line_rules(text, nameservers, search):
    conf = parse_resolv_conf(text)
    assert (conf.nameservers, conf.search) == (nameservers, search)


def test_environment_overrides_like_glibc():
    conf = parse_resolv_conf("search a.example\noptions ndots:2\n")
    env = {"LOCALDOMAIN": "x.example y.example", "RES_OPTIONS": "ndots:4 attempts:1"}
    assert apply_resolver_environment(conf, env) == ResolvConf(
        search=("x.example", "y.example"), ndots=4, attempts=1, options=("ndots:2", "ndots:4", "attempts:1"))
    assert apply_resolver_environment(conf, {}) == conf


def test_read_resolv_conf_follows_etc_root_and_reports_a_missing_file(tmp_path):
    conf, path, notes = read_resolv_conf(make_ctx(etc_root=fixture_root("rhel-host")))
    assert path == os.path.join(fixture_root("rhel-host"), "resolv.conf")
    assert conf.search == ("corp.example.com", "example.com")
    assert notes == ["%s: glibc uses the first 3 nameservers, ignores 10.11.5.21" % path]

    conf, path, notes = read_resolv_conf(make_ctx(etc_root=str(tmp_path)))
    assert conf.nameservers == ()
    assert notes[0] == f"{tmp_path}/resolv.conf does not exist: glibc defaults apply (nameserver 127.0.0.1, ndots 1)"


# queries_per_lookup -----------------------------------------------------------------------


@pytest.mark.parametrize("name, search, ndots, expected", [
    # Kubernetes ndots:5: a service name with 2 dots walks the whole search list first
    ("quay-db.quay.svc", K8S_SEARCH, 5, LookupCost(worst=8, found_absolute=8)),
    ("quay-db", K8S_SEARCH, 5, LookupCost(8, 8)),
    # an external name with fewer than 5 dots pays for every search domain too
    ("quay.io", K8S_SEARCH, 5, LookupCost(8, 8)),
    ("registry.access.redhat.com", K8S_SEARCH, 5, LookupCost(8, 8)),
    # enough dots: asked as written first; the search list only when that fails
    ("a.b.c.d.e.f", K8S_SEARCH, 5, LookupCost(8, 2)),
    ("quay.io", K8S_SEARCH, 1, LookupCost(8, 2)),
    # a trailing dot: as written only
    ("quay.io.", K8S_SEARCH, 5, LookupCost(2, 2)),
    # no search list: one candidate
    ("quay.io", (), 1, LookupCost(2, 2)),
    ("localhost", (), 1, LookupCost(2, 2)),
    # ndots:0: even a dotless name is asked as written first
    ("db", ("svc.local",), 0, LookupCost(4, 2)),
    # the root domain in the list adds no candidate of its own (systemd-resolved's "search .")
    ("quay.io", (".",), 1, LookupCost(2, 2)),
])
def test_queries_per_lookup(name, search, ndots, expected):
    assert queries_per_lookup(name, search, ndots) == expected


def test_queries_per_lookup_counts_one_query_per_qtype():
    assert queries_per_lookup("quay-db.quay.svc", K8S_SEARCH, 5, ("A",)) == LookupCost(4, 4)


def test_no_tld_query_skips_the_bare_name_for_dotless_names_only():
    assert queries_per_lookup("db", ("a.local", "b.local"), 1, no_tld_query=True) == LookupCost(4, 4)
    assert queries_per_lookup("db", ("a.local", "b.local"), 1) == LookupCost(6, 6)
    assert queries_per_lookup("db.x", ("a.local",), 5, no_tld_query=True) == LookupCost(4, 4)


def test_no_tld_query_still_asks_a_dotless_name_when_there_is_no_search_list():
    # glibc skips the bare name only after walking a search list; with none it asks it.
    assert queries_per_lookup("db", (), 1, no_tld_query=True) == LookupCost(2, 2)


# search_order: the names one lookup tries, in order -------------------------------------


@pytest.mark.parametrize("name, search, ndots, no_tld_query, expected", [
    ("db.quay", ("a.svc", "b.svc."), 5, False, ["db.quay.a.svc.", "db.quay.b.svc.", "db.quay."]),
    ("a.b.c", ("x",), 2, False, ["a.b.c.", "a.b.c.x."]),
    ("db", ("a.local", "b.local"), 1, True, ["db.a.local.", "db.b.local."]),
    ("db", ("a.local", "b.local"), 1, False, ["db.a.local.", "db.b.local.", "db."]),
    ("db.x", ("a.local",), 5, True, ["db.x.a.local.", "db.x."]),  # a dot: no-tld-query does not apply
    ("db", ("a.local",), 0, True, ["db.", "db.a.local."]),  # ndots:0 asks it as written first
    ("db", (), 1, True, ["db."]),
    ("db", (".",), 1, False, ["db."]),  # the root domain adds no candidate of its own
    ("x.", ("a",), 5, True, ["x."]),
])
def test_search_order(name, search, ndots, no_tld_query, expected):
    assert search_order(name, search, ndots, no_tld_query=no_tld_query) == expected


def test_resolv_conf_candidates_use_its_own_search_ndots_and_options():
    conf = parse_resolv_conf("search a.local b.local\noptions ndots:2 no-tld-query\n")
    assert conf.candidates("db") == ["db.a.local.", "db.b.local."]
    assert conf.candidates("db.x") == ["db.x.a.local.", "db.x.b.local.", "db.x."]
    assert conf.candidates("db.x.y") == ["db.x.y.", "db.x.y.a.local.", "db.x.y.b.local."]
