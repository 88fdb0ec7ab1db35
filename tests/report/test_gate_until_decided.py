"""`triage gate --until-decided` against real local servers: a metric undecided after one round
(too few samples) is decided in a later round, only the probes behind undecided metrics run
again, the report says how many rounds and samples it took and what stayed undecided, and a
plain gate on the same platform is inconclusive."""

from __future__ import annotations

import json

import pytest

from tests.app.http_server import Answer, ControlledServer, always
from tests.cli_runner import InProcessTriage
from triage import engine
from triage.judging import Judging
from triage.repro.dns_server import EmbeddedDnsServer
from triage.runner import RunOptions

NAME = "quay-db.quay.svc"


def app_config(path, many: ControlledServer, few: ControlledServer, few_samples: int) -> str:
    path.write_text(f"""samples: 100
spread: 0
targets:
  - {{name: many, url: "{many.url}/health", fanout: false}}
  - {{name: few, url: "{few.url}/health", fanout: false, samples: {few_samples}}}
""")
    return str(path)


@pytest.fixture(scope="module")
def app_store(tmp_path_factory):
    """A baseline of two healthy endpoints, 100 samples each."""
    root = tmp_path_factory.mktemp("until-decided")
    triage = InProcessTriage(str(root))
    with ControlledServer(always(Answer())) as many, ControlledServer(always(Answer())) as few:
        cfg = app_config(root / "healthy.yaml", many, few, 100)
        assert triage("probe", "--layers", "app", "--label", "4.3.18", "--config", cfg, "--out", "h.json",
                      "-q").code == 0
    assert triage("baseline", "save", "4.3.18", "h.json", "--store", "S").code == 0
    return root


def test_a_metric_too_thin_after_one_round_is_decided_in_a_later_one_and_only_its_probe_runs_again(app_store):
    slow = Answer(delay_s=0.005)  # 5 ms of server work: +5 ms on a loopback request of ~0.3 ms
    with ControlledServer(always(slow)) as many, ControlledServer(always(slow)) as few:
        cfg = app_config(app_store / "slow.yaml", many, few, 5)
        result = engine.gate("4.3.18", RunOptions(layers=("app",), label="4.3.19"),
                             Judging(store=str(app_store / "S")), config_path=cfg, layers_given=True,
                             report_path=str(app_store / "r.md"), max_rounds=3)
        requests = {"many": len(many.requests), "few": len(few.requests)}
    c = result.comparison
    rows = {m.id: m for m in c.metrics}
    rounds = c.rounds
    assert c.verdict == "regressed", c.reason
    # 5 values a round: fewer than 8 after round 1, so "few" waited; with 10 it regressed.
    assert rounds.decided_at["app.http.many.latency"] == 1
    assert rounds.decided_at["app.http.few.latency"] == 2
    assert rows["app.http.few.latency"].verdict == "regressed" and rows["app.http.few.latency"].candidate.n == 10
    assert [look.probes for look in rounds.looks] == [("app.http.few", "app.http.many"), ("app.http.few",)]
    assert [look.samples for look in rounds.looks] == [105, 5]
    # A warm-up request opens each group's connection: 10 groups of 10, then 5 groups of 1 a round.
    assert requests == {"many": 110, "few": 20}  # "many" never probed again once decided
    assert len(result.runs) == 2 and [r.label for r in result.runs] == ["4.3.19", "4.3.19"]
    # The error rates, 0 in 100 or 10: no number of rounds left could rule out +0.1 pp.
    assert rounds.stopped == "the rest cannot decide in the rounds left"
    assert "app.http.few.request_failures" in rounds.undecided
    assert all(rows[m].decision == "undecided" for m in rounds.undecided)
    assert [look.share for look in rounds.looks] == [0.5, 0.25]
    report = (app_store / "r.md").read_text()
    assert "## Rounds" in report and "2 of 3 rounds" in report and "110 samples (105 + 5)" in report
    assert "still undecided: " in report and "app.http.few.request\\_failures" in report
    assert "--until-decided --max-rounds 3" in report  # how to reproduce it
    back = json.loads(c.to_json())["rounds"]
    assert back["rounds"] == 2 and back["samples"] == 110 and back["max_rounds"] == 3
    assert back["decided_at"]["app.http.few.latency"] == 2


def test_a_passing_adaptive_gate_stores_every_round_s_run(app_store):
    # Floors far above scheduling jitter: the same servers probed again on a loaded machine (another
    # suite beside this one) moved sub-millisecond latencies past the 10% floor: 1 run in 2 regressed.
    budget = app_store / "wide-floors.yaml"
    budget.write_text("relative: 500%\nabsolute: {ms: 50}\n")
    with ControlledServer(always(Answer())) as many, ControlledServer(always(Answer())) as few:
        cfg = app_config(app_store / "same.yaml", many, few, 5)
        result = engine.gate("4.3.18", RunOptions(layers=("app",), label="4.3.19-ok"),
                             Judging(store=str(app_store / "S"), budget=str(budget)), config_path=cfg, layers_given=True,
                             report_path=str(app_store / "ok.md"), max_rounds=3, save_as="4.3.19-ok")
    c = result.comparison
    assert c.verdict == "ok", c.reason  # with 10 values "few" could be judged: no regression
    assert c.rounds.decided_at.get("app.http.few.latency", 0) != 1 and len(result.runs) >= 2
    assert [run.run_id for run in result.saved] == [run.run_id for run in engine.open_store(
        str(app_store / "S")).runs("4.3.19-ok")]
    assert len(result.saved) == len(result.runs)
    assert "few" in {r.target for r in result.runs[1].results}
    for look in c.rounds.looks[1:]:  # each later round ran only probes with a metric still undecided
        for probe in look.probes:
            ids = [m.id for m in c.metrics if m.id.startswith(probe + ".")]
            assert any(c.rounds.decided_at.get(i, 99) >= look.index for i in ids), (probe, look)


def dns_config(path, port: int, samples: int) -> str:
    path.write_text(f"samples: {samples}\nspread: 0\ndns:\n  resolvers: ['cluster-dns=127.0.0.1:{port}']\n"
                    f"  names: [{NAME}]\n  timeout: 0.5\n")
    return str(path)


@pytest.fixture(scope="module")
def dns_gate(tmp_path_factory):
    """A healthy baseline (100 samples a qtype); returns a gate of 5 samples a qtype against a DNS
    server 3 ms slower, with the options given."""
    root = tmp_path_factory.mktemp("until-decided-dns")
    triage = InProcessTriage(str(root))
    with EmbeddedDnsServer("healthy", names=(NAME,)) as healthy:
        cfg = dns_config(root / "healthy.yaml", healthy.port, 100)
        assert triage("probe", "--layers", "dns", "--label", "4.3.18", "--config", cfg, "--out", "h.json",
                      "-q").code == 0
    assert triage("baseline", "save", "4.3.18", "h.json", "--store", "S").code == 0

    def run(*options: str):
        with EmbeddedDnsServer("delay=3ms", names=(NAME,)) as slow:
            cfg = dns_config(root / "slow.yaml", slow.port, 5)
            return triage("gate", "--baseline", "4.3.18", "--store", "S", "--config", cfg, "--label", "4.3.19",
                          "--report", "r.md", "--save-as", "4.3.19", *options), (root / "r.md").read_text()
    return run


def test_the_cli_gate_decides_what_a_plain_gate_with_the_same_samples_cannot(dns_gate):
    plain, _ = dns_gate()
    assert plain.code == 4, plain.stdout + plain.stderr  # 5 samples a side: too few to judge
    assert "rounds:" not in plain.stdout
    adaptive, report = dns_gate("--until-decided")
    assert adaptive.code == 3, adaptive.stdout + adaptive.stderr
    assert adaptive.stdout.startswith("triage gate: regressed (root suspect: dns)")
    line = next(x for x in adaptive.stdout.splitlines() if x.startswith("rounds: "))
    assert line.startswith("rounds: 2 of 4 rounds (stopped: ")
    assert "α = 0.01 spent as 0.005 + 0.0025" in line
    assert f"dns.resolve.{NAME}@cluster-dns.latency\\_A | ms" in report and "## Rounds" in report


@pytest.mark.parametrize("options, message", [
    (("--max-rounds", "3"), "--max-rounds: only with --until-decided"),
    (("--until-decided", "--max-rounds", "0"), "--max-rounds: expected 1 to 10"),
    (("--until-decided", "--max-rounds", "11"), "--max-rounds: expected 1 to 10"),
    (("--until-decided", "--from", "prometheus", "--window", "1h"), "--until-decided: probes again"),
])
def test_bad_round_options_are_one_line_exit_2_before_probing(triage, options, message):
    out = triage("gate", "--baseline", "4.3.18", *options)
    assert out.code == 2, out.stdout + out.stderr
    assert out.stderr.startswith(f"triage: error: {message}") and out.stderr.count("\n") == 1, out.stderr
