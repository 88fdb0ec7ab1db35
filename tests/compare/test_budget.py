"""Budget files: floors per metric by glob, validated with file:line errors."""

from __future__ import annotations

import pytest

from triage.budget import DEFAULT_BUDGET, load_budget, parse_budget
from triage.errors import InputFileError


def test_default_floors_per_unit():
    p = DEFAULT_BUDGET.policy_for
    assert (p("dns.resolve.x.latency", "samples", "ms").floors.absolute, p("a.b.c.d", "samples", "ms").floors.relative) == (0.05, 0.10)
    assert p("a.b.c.d", "samples", "s").floors.absolute == 0.00005
    assert p("a.b.c.d", "gauge", "count").floors.absolute == 1
    assert p("a.b.c.d", "gauge", "bytes").floors.absolute == 1024
    assert p("a.b.c.d", "proportion", None).floors.absolute == 0.001
    ratio = p("database.stats.db.cache_hit", "gauge", "ratio").floors
    assert (ratio.absolute, ratio.relative) == (0.01, None)  # a bounded unit: no relative floor
    assert p("a.b.c.d", "samples", "furlongs").floors.absolute == 0.0
    assert ratio.passes(-0.04, 0.99) and not ratio.passes(-0.005, 0.99)


def test_floors_pass_only_past_both():
    f = DEFAULT_BUDGET.policy_for("a.b.c.d", "samples", "ms").floors
    assert f.passes(0.06, 0.3)
    assert not f.passes(0.04, 0.3)  # below the absolute floor
    assert not f.passes(0.3, 5.0)  # 6%: below the relative floor
    assert f.passes(-0.6, 5.0)  # either sign
    assert f.passes(1.0, 0.0)  # from zero any change past the absolute floor counts


def test_rules_apply_in_order_later_ones_win_field_by_field():
    b = parse_budget(
        "relative: 20%\n"
        "absolute: {ms: 0.1}\n"
        "rules:\n"
        "  - match: 'dns.*'\n"
        "    relative: 5%\n"
        "    absolute: 0.02\n"
        "  - match: 'dns.resolve.quay-db.*'\n"
        "    absolute: 0.5\n"
        "  - match: '*.kernel_release'\n"
        "    regress_on_change: true\n", "budgets.yaml")
    dns = b.policy_for("dns.resolve.quay-db.latency", "samples", "ms").floors
    assert (dns.relative, dns.absolute, dns.source) == (0.05, 0.5, "budgets.yaml:7 (dns.resolve.quay-db.*)")
    other = b.policy_for("dns.resolve.other.latency", "samples", "ms").floors
    assert (other.relative, other.absolute) == (0.05, 0.02)
    app = b.policy_for("app.http.registry.latency", "samples", "ms")
    assert (app.floors.relative, app.floors.absolute, app.regress_on_change) == (0.2, 0.1, False)
    assert b.policy_for("kernel.netstat.local.kernel_release", "fact", None).regress_on_change


def test_relative_null_switches_the_relative_floor_off():
    b = parse_budget("rules:\n  - match: 'app.*'\n    relative: null\n", "b.yaml")
    f = b.policy_for("app.http.x.latency", "samples", "ms").floors
    assert f.relative is None and f.passes(0.06, 100.0)


@pytest.mark.parametrize("text, where, expected", [
    ("rules:\n  - match: 'dns.*'\n    relative: lots\n", "b.yaml:3: rules[0].relative", "expected a fraction like 0.1"),
    ("rules:\n  - match: 'dns.*'\n    floor: 1\n", "b.yaml:3: rules[0].floor", "unknown key"),
    ("rules:\n  - relative: 0.1\n", "b.yaml:2: rules[0].match", "required"),
    ("rules:\n  - match: 'dns.*'\n", "b.yaml:2: rules[0]", "rule sets nothing"),
    ("rules:\n  - match: 'x'\n    absolute: -1\n", "b.yaml:3: rules[0].absolute", "non-negative"),
    ("rules:\n  - match: 'x'\n    ignore: maybe\n", "b.yaml:3: rules[0].ignore", "expected true or false"),
    ("absolute: 5\n", "b.yaml:1: absolute", "mapping of unit"),
    ("budgets: []\n", "b.yaml:1: budgets", "unknown key"),
    ("rules: [\n", "b.yaml:2", "not valid YAML"),
])
def test_bad_budgets_name_file_line_and_field(text, where, expected):
    with pytest.raises(InputFileError) as err:
        parse_budget(text, "b.yaml")
    assert str(err.value).startswith(where), str(err.value)
    assert expected in str(err.value)


def test_missing_budget_file(tmp_path):
    with pytest.raises(InputFileError, match="no such budget YAML file"):
        load_budget(str(tmp_path / "nope.yaml"))
    assert load_budget(None) is DEFAULT_BUDGET


def test_empty_budget_file_means_defaults(tmp_path):
    path = tmp_path / "b.yaml"
    path.write_text("# nothing yet\n")
    b = load_budget(str(path))
    assert b.policy_for("a.b.c.d", "samples", "ms").floors.absolute == 0.05
