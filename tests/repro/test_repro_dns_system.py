"""`repro dns --system` reads resolv.conf the way the dns probes do (TRIAGE_RESOLV_CONF,
LOCALDOMAIN, RES_OPTIONS, through triage.resolvconf's one reader), and follows glibc's
search order, no-tld-query included. The resolv.conf named points at an embedded server on
a loopback address of our own, port 53 (resolv.conf has no port); the wire path, since
glibc itself would read this machine's /etc/resolv.conf."""

from __future__ import annotations

import pytest

from triage.repro.dns_repro import run_dns_repro
from triage.repro.dns_workload import WorkloadOptions

from tests.net_helpers import PORT53_HOST

SEARCH = ("a.test", "b.test")
SMALL = {"path": "wire", "system": True, "names": ("db",), "duration_s": 30.0, "max_queries": 40, "rate": 0.0,
         "workers": 1, "pool_size": 1, "hold_ms": 0.0}


@pytest.fixture
def resolv_conf(tmp_path, monkeypatch):
    """Write a resolv.conf, point TRIAGE_RESOLV_CONF at it, clear glibc's overrides."""
    monkeypatch.delenv("LOCALDOMAIN", raising=False)
    monkeypatch.delenv("RES_OPTIONS", raising=False)

    def write(text: str) -> None:
        path = tmp_path / "resolv.conf"
        path.write_text(text)
        monkeypatch.setenv("TRIAGE_RESOLV_CONF", str(path))

    return write


def one_side(options: WorkloadOptions):
    report = run_dns_repro(["healthy"], options)
    assert report.target == "system" and report.path == "wire"
    [side] = report.to_json_dict()["sides"]
    return side


def test_system_path_follows_triage_resolv_conf_with_no_tld_query(port53_server, resolv_conf):
    server = port53_server("search-nxdomain", SEARCH)
    resolv_conf(f"nameserver {PORT53_HOST}\nsearch a.test b.test\noptions ndots:1 timeout:2 no-tld-query\n")
    side = one_side(WorkloadOptions(**SMALL))
    # db.a.test and db.b.test, A and AAAA each, all NXDOMAIN; "db." is never asked
    assert side["queries_per_lookup"] == 4.0
    assert side["failures"] == side["lookups"] and side["failure_reasons"] == {"not found": side["lookups"]}
    assert side["resolver_timeout_ms"] == 2000.0
    stats = server.stats()
    # only the warm-up lookup (triage-warmup.example: dots >= ndots, asked as written) answered
    assert stats["nxdomain"] == 4 * side["lookups"] and stats["answered"] == 2


def test_without_no_tld_query_the_bare_name_is_asked_last(port53_server, resolv_conf):
    port53_server("search-nxdomain", SEARCH)
    resolv_conf(f"nameserver {PORT53_HOST}\nsearch a.test b.test\noptions ndots:1\n")
    side = one_side(WorkloadOptions(**SMALL))
    assert side["queries_per_lookup"] == 6.0 and side["failures"] == 0


def test_system_path_honours_localdomain_and_res_options(port53_server, resolv_conf, monkeypatch):
    port53_server("search-nxdomain", ("c.test",))
    resolv_conf(f"nameserver {PORT53_HOST}\nsearch a.test b.test\noptions ndots:1\n")
    monkeypatch.setenv("LOCALDOMAIN", "c.test")  # replaces the file's search list
    monkeypatch.setenv("RES_OPTIONS", "no-tld-query timeout:3")  # added after the file's options
    side = one_side(WorkloadOptions(**SMALL))
    assert side["queries_per_lookup"] == 2.0  # db.c.test only
    assert side["failures"] == side["lookups"] and side["resolver_timeout_ms"] == 3000.0
