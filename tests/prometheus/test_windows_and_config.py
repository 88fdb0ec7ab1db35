"""Window forms, upgrade windows from a ClusterVersion history, the prometheus: config, and
the where-clause: pure, no server."""

from __future__ import annotations

import datetime as dt

import pytest

from triage.attribution import TargetSpread, where_clause
from triage.config import parse_config
from triage.errors import BadInput, InputFileError
from triage.sources.prometheus.collect import format_duration_promql, target_name
from triage.sources.prometheus.profiles import PROFILES
from triage.sources.prometheus.windows import format_duration, parse_duration, parse_window

from . import history

NOW = dt.datetime(2020, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
UTC = dt.timezone.utc


def hist():
    return history.cluster_version_history()


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("5m", 300), ("2h", 7200), ("1h30m", 5400), ("1d", 86400),
                                           ("1w", 604800)])
def test_durations_read_and_print_back(text, seconds):
    assert parse_duration(text, "--window").total_seconds() == seconds
    assert format_duration(dt.timedelta(seconds=seconds)) == {"90s": "1m30s", "1w": "7d"}.get(text, text)


@pytest.mark.parametrize("bad", ["", "5", "5q", "m", "-1h", "0m"])
def test_bad_durations_name_the_option(bad):
    with pytest.raises(BadInput, match=r"^--window: expected a duration"):
        parse_duration(bad, "--window")


def test_start_slash_duration_start_slash_end_and_duration_ending_now():
    w = parse_window("2020-05-27T08:00Z/2h", now=NOW)
    assert (w.start, w.end) == (dt.datetime(2020, 5, 27, 8, tzinfo=UTC), dt.datetime(2020, 5, 27, 10, tzinfo=UTC))
    w = parse_window("2020-05-27T10:00+02:00/2020-05-27T09:00Z", now=NOW)
    assert (w.start.hour, w.end.hour, w.duration.total_seconds()) == (8, 9, 3600)
    w = parse_window("1h", now=NOW)
    assert (w.end, w.duration, w.why) == (NOW, dt.timedelta(hours=1), "the last 1h, ending now")


@pytest.mark.parametrize("spec, expected", [
    ("2020-05-27T08:00/2h", "expected an ISO 8601 time with a zone"),
    ("yesterday", "expected START/DURATION"),
    ("2020-06-02T00:00Z/1h", "starts in the future"),
    ("2020-05-27T08:00Z/2020-05-27T07:00Z", "the window is empty"),
    ("40d", "a window of at most 31d"),
])
def test_bad_windows_say_what_was_expected(spec, expected):
    with pytest.raises(BadInput, match=expected):
        parse_window(spec, now=NOW)


def test_upgrade_windows_skip_the_rollout_and_say_why():
    after = parse_window("upgrade:4.3.19", now=NOW, history=hist)
    assert (after.start.isoformat(), after.end.isoformat()) == ("2020-05-27T10:40:00+00:00", "2020-05-27T12:40:00+00:00")
    assert after.version == "4.3.19" and "the first 2h of 4.3.19, from its rollout's completion" in after.why
    before = parse_window("before-upgrade:4.3.19/3h", now=NOW, history=hist)
    assert (before.start.hour, before.end.hour, before.version) == (7, 10, "4.3.18")
    assert before.why == "the last 3h of 4.3.18, up to the start of the rollout to 4.3.19"


def test_upgrade_windows_are_cut_at_the_neighbouring_rollouts_and_at_now():
    entries = [{"state": "Completed", "version": "4.3.20", "startedTime": "2020-05-27T11:00:00Z",
                "completionTime": "2020-05-27T11:30:00Z"}] + hist()
    after = parse_window("upgrade:4.3.19", now=NOW, history=lambda: entries)
    assert after.end.isoformat() == "2020-05-27T11:00:00+00:00" and "cut where the rollout to 4.3.20 started" in after.why
    before = parse_window("before-upgrade:4.3.20/2h", now=NOW, history=lambda: entries)
    assert before.start.isoformat() == "2020-05-27T10:40:00+00:00" and "cut where the rollout to 4.3.19 completed" \
        in before.why
    early = parse_window("upgrade:4.3.19", now=dt.datetime(2020, 5, 27, 11, 0, tzinfo=UTC), history=hist)
    assert early.duration == dt.timedelta(minutes=20) and early.why.endswith("cut at now")


def test_upgrade_windows_refuse_unknown_or_unfinished_versions():
    with pytest.raises(BadInput, match=r"version 4.4.0 is not in the ClusterVersion history \(it has: 4.3.19, 4.3.18\)"):
        parse_window("upgrade:4.4.0", now=NOW, history=hist)
    partial = [dict(hist()[0], state="Partial", completionTime=None)] + hist()[1:]
    with pytest.raises(BadInput, match="the rollout to 4.3.19 has not completed"):
        parse_window("upgrade:4.3.19", now=NOW, history=lambda: partial)
    with pytest.raises(BadInput, match="needs the cluster's ClusterVersion history"):
        parse_window("upgrade:4.3.19", now=NOW)


@pytest.mark.parametrize("body, where", [
    ("prometheus:\n  block: 5m\n", "t.yaml:1: prometheus.url: required"),
    ("prometheus:\n  url: ftp://x\n", "t.yaml:2: prometheus.url: expected an http:// or https:// base URL"),
    ("prometheus:\n  url: http://x\n  block: 5q\n", "t.yaml:3: prometheus.block: expected a duration like 5m"),
    ("prometheus:\n  url: http://x\n  profiles: [nodes]\n", "t.yaml:3: prometheus.profiles[0]: expected one of node,"),
    ("prometheus:\n  url: http://x\n  verify: /no/such/ca.pem\n", "t.yaml:3: prometheus.verify: expected true, false"),
    ("prometheus:\n  url: http://x\n  headers: {Authorization: a}\n  token_file: /t\n",
     "t.yaml:4: prometheus.token_file: expected either token_file or an Authorization header"),
    ("prometheus:\n  url: http://x\n  queries:\n    - {layer: web, probe: p, metric: m, promql: up}\n",
     "t.yaml:4: prometheus.queries[0].layer: expected one of kernel, dns"),
    ("prometheus:\n  url: http://x\n  queries:\n    - {layer: app, probe: p, metric: m}\n",
     "t.yaml:4: prometheus.queries[0].promql: required field is missing"),
    ("prometheus:\n  url: http://x\n  queries:\n    - {layer: app, probe: p, metric: m, promql: up, by: [a-b]}\n",
     "t.yaml:4: prometheus.queries[0].by[0]: expected a Prometheus label name"),
    ("prometheus:\n  url: http://x\n  colour: red\n", "t.yaml:3: prometheus.colour: unknown key"),
])
def test_config_errors_name_file_line_and_field(body, where):
    with pytest.raises(InputFileError) as caught:
        parse_config(body, "t.yaml")
    assert str(caught.value).startswith(where)


def test_header_values_expand_from_the_environment_and_never_show(monkeypatch):
    monkeypatch.setenv("PROM_TOKEN", "sha256~abcdefghijklmnop")
    cfg = parse_config("prometheus:\n  url: https://thanos:9091\n  headers: {Authorization: 'Bearer ${PROM_TOKEN}'}\n"
                       "  block: 10m\n  profiles: [node, coredns]\n", "t.yaml").prometheus
    assert cfg.headers == {"Authorization": "Bearer sha256~abcdefghijklmnop"} and cfg.block_s == 600
    assert cfg.profiles == ("node", "coredns") and "abcdefghijklmnop" not in repr(cfg)


def test_targets_are_named_by_their_identifying_labels():
    coredns, forward = (next(s for s in PROFILES["coredns"].series if s.probe == p) for p in ("coredns", "forward"))
    assert target_name(coredns, {"pod": "dns-default-b", "instance": "10.128.0.5:9154"}) == "dns-default-b"
    assert target_name(coredns, {"instance": "10.128.0.5:9154"}) == "10.128.0.5:9154"
    assert target_name(forward, {"pod": "dns-default-b", "to": "10.0.0.2:53"}) == "dns-default-b/10.0.0.2:53"
    assert target_name(coredns, {}) is None
    assert format_duration_promql(300) == "5m" and format_duration_promql(90) == "90s"


def test_every_profile_variant_names_the_metrics_its_promql_uses():
    for profile in PROFILES.values():
        for series in profile.series:
            for variant in series.variants:
                assert variant.needs and all(name in variant.promql for name in variant.needs), (series.metric, variant)
                assert "$block" in variant.promql or series.kind == "fact"


def test_where_clause_counts_names_and_stays_quiet_when_every_target_regressed():
    assert where_clause([TargetSpread("nodes", ("worker-1", "worker-7"), 40, ruled_out=38)]) == \
        " on 2 of 40 nodes (worker-1, worker-7); the others ruled out"
    many = tuple(f"n{i}" for i in range(5))
    assert where_clause([TargetSpread("nodes", many, 9, ruled_out=1)]) == \
        " on 5 of 9 nodes (n0, n1, n2 and 2 more); the others did not regress (1 of 4 ruled out)"
    assert where_clause([TargetSpread("CoreDNS pods", ("a", "b", "c"), 3)]) == ""
    assert where_clause([TargetSpread("targets", ("quay-db",), 1)]) == ""
