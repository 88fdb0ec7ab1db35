import threading

from triage.probes import ProbeSkipped, ProbeSpec, all_probes
from triage.config import Config
from triage.model import Measurement
from triage.runner import RunOptions, run_probes

order: list[str] = []


def ok_probe(target, ctx):
    order.append(f"ok:{target}")
    return [Measurement.samples("latency", [1.0] * ctx.samples)]


def broken_probe(target, ctx):
    raise ConnectionError("db.example:5432 refused (postgresql://u:hunter2@db.example/x)")


def skipped_probe(target, ctx):
    raise ProbeSkipped("needs Linux")


release = threading.Event()


def hanging_probe(target, ctx):
    release.wait(30)  # released by the test after the run; never a sleep
    return []


def window_probe(target, ctx):
    order.append("window-open")
    yield None
    order.append("window-close")
    yield Measurement.gauge("seen", len(order))


def wrong_type_probe(target, ctx):
    return ["not a measurement"]


SPECS = [
    ProbeSpec("kernel", "window", window_probe, window=True),
    ProbeSpec("kernel", "ok", ok_probe, targets=lambda cfg: [("a", "a"), ("b", "b")]),
    ProbeSpec("kernel", "broken", broken_probe),
    ProbeSpec("kernel", "skipped", skipped_probe),
    ProbeSpec("kernel", "hang", hanging_probe, timeout_s=0.2),
    ProbeSpec("kernel", "wrong", wrong_type_probe),
]


def test_one_broken_probe_never_sinks_the_run():
    order.clear()
    try:
        snap = run_probes(Config(), RunOptions(label="t", samples=9), specs=SPECS)
    finally:
        release.set()
    by = {(r.probe, r.target): r for r in snap.results}
    assert order == ["window-open", "ok:a", "ok:b", "window-close"]
    assert by[("ok", "a")].status == "ok" and len(by[("ok", "a")].measurements[0].values) == 9
    assert by[("broken", "local")].status == "error"
    assert by[("broken", "local")].error.startswith("ConnectionError: db.example:5432 refused")
    assert "hunter2" not in by[("broken", "local")].error
    assert by[("skipped", "local")].status == "skipped" and by[("skipped", "local")].error == "needs Linux"
    assert by[("hang", "local")].status == "error" and "timed out" in by[("hang", "local")].error
    assert by[("wrong", "local")].error == "probe returned str, expected Measurement"
    assert by[("window", "local")].measurements[0].value == 4  # closed after the other probes ran
    assert snap.label == "t" and snap.schema == "triage.snapshot/v1"


def test_deadline_marks_unstarted_probes_as_errors():
    snap = run_probes(Config(), RunOptions(deadline_s=0), specs=[SPECS[1]])
    assert [r.status for r in snap.results] == ["error", "error"]
    assert "deadline" in snap.results[0].error


def test_registry_collects_kernel_probes_in_declared_order():
    names = [s.name for s in all_probes(["kernel"])]
    assert names[:4] == ["counters", "nic", "facts", "tcp_connect"]
    assert all(s.layer == "kernel" for s in all_probes(["kernel"]))


def rounds_probe(target, ctx):
    from triage.probes import ROUND

    ticks = 0
    while (yield None) is ROUND:
        ticks += 1
    yield Measurement.gauge("ticks", ticks)


def test_a_rounds_window_is_resumed_each_round_even_without_sub_run_probes():
    from dataclasses import replace

    spec = ProbeSpec("kernel", "rounds", rounds_probe, window=True, rounds=True)
    config = replace(Config(), groups=6, spread_s=0.0)
    snap = run_probes(config, RunOptions(layers=("kernel",)), specs=[spec])
    # Six rounds: five end with a tick, the sixth when the window closes.
    assert snap.results[0].status == "ok" and snap.results[0].measurements[0].value == 5
