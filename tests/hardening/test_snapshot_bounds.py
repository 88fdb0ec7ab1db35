"""Issue 16, item 7: snapshots that used to validate and then crash compare, report or save
(exit 1), or ask for unbounded time and memory, are refused at validation: exit 2, one line,
naming the file and the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from triage.model import Snapshot

from .helpers import inproc

GOOD = {"schema": "triage.snapshot/v1", "label": "4.3.19", "taken_at": "2026-11-23T15:00:00Z", "host": "node-1",
        "tool_version": "0.1.0", "results": [
            {"layer": "dns", "probe": "resolve", "target": "quay-db.quay.svc", "status": "ok", "error": None,
             "duration_s": 1.2, "measurements": [
                 {"metric": "latency", "unit": "ms", "kind": "samples", "better": "lower",
                  "values": [0.31, 0.29, 0.3, 0.33, 0.28, 0.3, 0.32, 0.31, 0.29, 0.3]},
                 {"metric": "timeouts", "kind": "proportion", "better": "lower", "events": 3, "trials": 500},
                 {"metric": "retrans", "unit": "count", "kind": "gauge", "better": "lower", "value": 4,
                  "counter": True, "window_s": 12.5},
                 {"metric": "kernel_release", "kind": "fact", "value": "4.18.0-147.13.2.el8_1"}]}]}

LIMIT = 64 * 1024 * 1024  # the documented snapshot size limit (README, Hardening)


def good_text() -> str:
    return json.dumps(GOOD)


def replace(old: str, new: str) -> str:
    text = good_text()
    assert old in text, old
    return text.replace(old, new, 1)


# (name, snapshot text, the field the error must name, words it must hold)
HOSTILE = [
    ("fact nested 900 deep", replace('"4.18.0-147.13.2.el8_1"', "[" * 900 + "]" * 900),
     "results[0].measurements[3].value", "levels of nesting"),
    ("extra field nested 5,000 deep", replace('"host": "node-1"', '"host": "node-1", "x": ' + "[" * 5000 + "]" * 5000),
     None, "nested too deep"),
    ("5,000-digit integer", replace('"value": 4,', '"value": ' + "9" * 5000 + ","), None, "digits"),
    ("sample over 1e308", replace("[0.31", "[1e309"), "results[0].measurements[0].values", "finite numbers"),
    ("sample of 1.7e308", replace("[0.31", "[1.7e308"), "results[0].measurements[0].values", "finite numbers"),
    ("a 400-digit integer sample", replace("[0.31", "[" + "9" * 400), "results[0].measurements[0].values",
     "finite numbers"),
    ("sample of -1e308", replace("[0.31", "[-1e308"), "results[0].measurements[0].values", "finite numbers"),
    ("lone surrogate in a target", replace('"quay-db.quay.svc"', '"quay-db\\ud800"'), "results[0].target",
     "lone surrogate"),
    ("lone surrogate in an unknown field", replace('"host": "node-1"', '"host": "node-1", "note": "\\udfff"'),
     "note", "lone surrogate"),
    ("NaN fact", replace('"4.18.0-147.13.2.el8_1"', "NaN"), "results[0].measurements[3].value", "NaN"),
    ("Infinity in an unknown field", replace('"events": 3', '"events": 3, "x": [-Infinity]'),
     "results[0].measurements[1].x[0]", "-Infinity"),
    ("NaN gauge", replace('"value": 4,', '"value": NaN,'), "results[0].measurements[2].value", "finite number"),
    ("negative counter", replace('"value": 4,', '"value": -4,'), "results[0].measurements[2].value", "from 0"),
    ("counter of 1e12", replace('"value": 4,', '"value": 1000000000000,'), "results[0].measurements[2].value",
     "to 1e+06"),
    ("window of 5e-324 s", replace('"window_s": 12.5', '"window_s": 5e-324'), "results[0].measurements[2].window_s",
     "at least 1e-06"),
    ("window of 1e300 s", replace('"window_s": 12.5', '"window_s": 1e300'), "results[0].measurements[2].window_s",
     "to 1e+09"),
    ("1e8 events in 1e8 trials", replace('"events": 3, "trials": 500', '"events": 50000000, "trials": 100000000'),
     "results[0].measurements[1].events", "to 1,000,000"),
    ("duplicate schema", replace('{"schema": "triage.snapshot/v1"', '{"schema": "triage.snapshot/v1", '
                                 '"schema": "triage.snapshot/v1"'), "schema", "appears twice"),
    ("duplicate value in a measurement", replace('"value": 4,', '"value": 4, "value": 400,'),
     "results[0].measurements[2].value", "appears twice"),
    ("a sixth layer", replace('"layer": "dns"', '"layer": "network"'), "results[0].layer",
     "kernel, dns, kubernetes, database, app"),
    ("50 MB of [", "[" * 50_000_000, None, "nested too deep"),
]


@pytest.mark.parametrize("name, text, field, words", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_snapshots_are_refused_at_validation(tmp_path, name, text, field, words):
    bad, good = tmp_path / "bad.json", tmp_path / "good.json"
    bad.write_text(text, encoding="utf-8", errors="surrogatepass")
    good.write_text(good_text())
    for args in (("compare", str(bad), str(good), "--format", "json"),
                 ("report", str(good), str(bad), "--format", "markdown"),
                 ("baseline", "save", "x", str(bad), "--store", str(tmp_path / "store"))):
        status, out, err = inproc(*args)
        assert status == 2, (args, status, err[-300:])
        assert err.startswith(f"triage: error: {bad}: {field + ': ' if field else ''}"), err[:300]
        assert words in err and err.count("\n") == 1 and out == "", err[:300]
    assert not (tmp_path / "store").exists() or not list((tmp_path / "store").glob("x/*.json"))


def test_the_good_snapshot_itself_loads_and_compares(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(good_text())
    status, out, err = inproc("compare", str(good), str(good), "--format", "json")
    assert status == 0, err
    assert json.loads(out)["verdict"] == "ok"


def test_the_size_of_a_snapshot_is_bounded(tmp_path):
    big = tmp_path / "big.json"
    with big.open("w") as fh:
        fh.write(good_text()[:-2] + ', "pad": "')
        fh.write("x" * LIMIT)
        fh.write('"}')
    status, out, err = inproc("compare", str(big), str(big))
    assert status == 2 and "larger than 64 MiB" in err, err[:300]


def test_snapshots_as_large_as_a_million_samples_still_load(tmp_path: Path):
    data = json.loads(good_text())
    data["results"][0]["measurements"][0]["values"] = [0.25 + (i % 997) / 1000 for i in range(1_000_000)]
    text = json.dumps(data)
    assert len(text) < LIMIT // 3
    assert len(Snapshot.from_json(text, "million.json").results[0].measurements[0].values) == 1_000_000
