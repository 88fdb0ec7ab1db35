"""Fault profile specs and YAML files: what parses to what, and one-line errors for the rest."""

from __future__ import annotations

import pytest

from triage.errors import BadInput, InputFileError
from triage.repro.dns_profile import DEFAULT_SEARCH, DropRule, FaultProfile, parse_profile


@pytest.mark.parametrize("spec", ["", "healthy", "  HEALTHY ", None])
def test_healthy_means_no_fault(spec):
    profile = parse_profile(spec)
    assert profile.healthy and profile.faults() == ()
    assert profile.spec == "healthy"


def test_the_issue_example_parses_into_each_part():
    profile = parse_profile("delay=3ms,jitter=1ms,drop=2%:AAAA")
    assert profile.delay_ms == 3.0 and profile.jitter_ms == 1.0 and profile.jitter_dist == "normal"
    assert profile.drops == (DropRule(0.02, "AAAA"),)
    assert profile.spec == "delay=3ms,jitter=1ms,drop=2%:AAAA"
    assert profile.faults() == ("delay=3ms", "jitter=1ms", "drop=2%:AAAA")
    assert not profile.healthy


def test_every_fault_key():
    p = parse_profile("delay=500us,jitter=pareto:2ms,drop=1%,drop=5%:a,aaaa-blackhole,search-nxdomain=20ms,"
                      "servfail=5%,truncate=50%,overload=64:servfail,clash=10ms:30%,neg-ttl=7s,cold-cache,seed=42")
    assert p.delay_ms == pytest.approx(0.5)
    assert (p.jitter_ms, p.jitter_dist) == (2.0, "pareto")
    assert p.drops == (DropRule(0.01, None), DropRule(0.05, "A"))
    assert p.aaaa_blackhole and p.search_nxdomain and p.search_nxdomain_ms == 20.0
    assert p.servfail_rate == pytest.approx(0.05) and p.truncate_rate == pytest.approx(0.5)
    assert (p.overload_max, p.overload_action) == (64, "servfail")
    assert (p.clash_window_ms, p.clash_rate) == (10.0, pytest.approx(0.3))
    assert p.neg_ttl_s == 7 and p.cold_cache_ms == 50.0 and p.seed == 42


def test_bare_flags_take_defaults():
    p = parse_profile("truncate,clash,search-nxdomain,overload=3")
    assert p.truncate_rate == 1.0 and p.clash_window_ms == 5.0 and p.clash_rate == 1.0
    assert p.search_nxdomain and p.search_nxdomain_ms == 0.0
    assert (p.overload_max, p.overload_action) == (3, "drop")


def test_client_settings_shape_the_resolv_conf():
    p = parse_profile("ndots=2,search=a.example:b.example,timeout=3,attempts=1")
    assert p.healthy  # client settings are not server faults
    assert p.resolv_conf("127.0.0.1") == ("nameserver 127.0.0.1\nsearch a.example b.example\n"
                                          "options ndots:2 timeout:3 attempts:1\n")
    assert parse_profile("healthy").search == DEFAULT_SEARCH


def test_profile_round_trips_through_a_dict():
    p = parse_profile("delay=1ms,drop=3%:AAAA,search=x.example,seed=9")
    assert FaultProfile.from_dict(p.to_dict()) == p


def test_yaml_file(tmp_path):
    path = tmp_path / "slow.yaml"
    path.write_text("delay: 3ms\njitter: pareto:1ms\ndrop: ['2%:AAAA', '1%']\naaaa-blackhole: true\n"
                    "search: [quay.svc.cluster.local, cluster.local]\nndots: 5\nseed: 1\n")
    p = parse_profile(str(path))
    assert p.spec == "slow.yaml"
    assert p.delay_ms == 3.0 and p.jitter_dist == "pareto"
    assert p.drops == (DropRule(0.02, "AAAA"), DropRule(0.01, None))
    assert p.aaaa_blackhole and p.search == ("quay.svc.cluster.local", "cluster.local") and p.seed == 1


def test_yaml_errors_name_file_and_field(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("delay: soon\n")
    with pytest.raises(InputFileError) as err:
        parse_profile(str(path))
    assert str(err.value).startswith(f"{path}: delay: ")
    assert "duration" in str(err.value)
    path.write_text("- just\n- a list\n")
    with pytest.raises(InputFileError, match="expected a mapping"):
        parse_profile(str(path))
    with pytest.raises(InputFileError, match="no such profile file"):
        parse_profile(str(tmp_path / "missing.yaml"))


@pytest.mark.parametrize("spec, fragment", [
    ("delay", "delay: needs a value"),
    ("delay=fast", "expected a duration"),
    ("delay=-3ms", "expected a duration"),
    ("drop=150%", "between 0% and 100%"),
    ("drop=2%:BOGUS", "unknown qtype 'BOGUS'"),
    ("servfail=lots", "expected a percentage"),
    ("jitter=cauchy:1ms", "expected normal or pareto"),
    ("overload=0", "between 1 and"),
    ("overload=5:explode", "expected drop or servfail"),
    ("wobble=3", "unknown key 'wobble'"),
    ("delay=3ms,,drop=1%", "empty item"),
    ("aaaa-blackhole=maybe", "takes no value"),
    ("search=bad..name", "is not a domain name"),
    ("timeout=0", "between 1 and 30"),
])
def test_bad_specs_raise_one_line(spec, fragment):
    with pytest.raises(BadInput) as err:
        parse_profile(spec)
    message = str(err.value)
    assert fragment in message
    assert "\n" not in message and message.startswith("profile: ")
