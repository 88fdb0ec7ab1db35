"""Issue 16, part 1's leftovers: what triage writes, triage reads back. A probe that produces
NaN, ±Infinity, a value out of range or text no file can hold loses that measurement (with a
note naming the field), not the run; the snapshot it writes loads. And no writer can put
NaN into a file: JSON has no NaN, so the loader would refuse the file for ever after."""

from __future__ import annotations

import math

import pytest

from triage.config import Config
from triage.model import Measurement, ProbeResult, Snapshot
from triage.probes import ProbeSpec
from triage.runner import RunOptions, run_probes


def produces_nan(target, ctx):
    ctx.notes.append("read from \udcff bytes")  # surrogateescape'd bytes a probe decoded
    return [Measurement.samples("latency", [0.3, math.nan, 0.4]), Measurement.gauge("depth", math.inf),
            Measurement.fact("mtu", {"eth0": math.nan}), Measurement.gauge("events", 7),
            Measurement.samples("huge", [1e300])]


def raises_with_surrogate(target, ctx):
    raise OSError("no route to h\udcffost")


def test_the_runner_drops_what_the_loader_would_refuse_and_the_snapshot_loads():
    snap = run_probes(Config(), RunOptions(), specs=[ProbeSpec("kernel", "nan", produces_nan),
                                                     ProbeSpec("dns", "broken", raises_with_surrogate)])
    again = Snapshot.from_json(snap.to_json(), "written.json")  # loads: no NaN, no lone surrogate
    nan = next(r for r in again.results if r.probe == "nan")
    assert [m.metric for m in nan.measurements] == ["events"]
    notes = " | ".join(nan.notes)
    for words in ("'latency' dropped: measurements[0].values", "'depth' dropped: measurements[1].value",
                  "'mtu' dropped: measurements[2].value.eth0", "'huge' dropped: measurements[4].values",
                  "read from \\udcff bytes"):
        assert words in notes, notes
    broken = next(r for r in again.results if r.probe == "broken")
    assert broken.status == "error" and broken.error == "OSError: no route to h\\udcffost"


def test_no_writer_puts_nan_into_a_snapshot_file():
    snap = Snapshot("x", "2026-01-01T00:00:00Z", "h", "0", (ProbeResult("kernel", "p", "t", measurements=(
        Measurement.gauge("g", math.nan),)),))
    with pytest.raises(ValueError, match="JSON compliant"):
        snap.to_json()
