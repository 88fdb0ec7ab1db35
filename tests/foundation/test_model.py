import json

import pytest

from triage.errors import InputFileError
from triage.model import Measurement, ProbeResult, Snapshot

DESIGN_EXAMPLE = {
    "schema": "triage.snapshot/v1", "label": "4.3.19", "taken_at": "2026-11-23T15:00:00Z",
    "host": "node-1", "tool_version": "0.1.0",
    "results": [
        {"layer": "dns", "probe": "resolve", "target": "quay-db.quay.svc", "status": "ok",
         "error": None, "duration_s": 1.2,
         "measurements": [
             {"metric": "latency", "unit": "ms", "kind": "samples", "better": "lower", "values": [0.31, 0.29]},
             {"metric": "timeouts", "kind": "proportion", "better": "lower", "events": 3, "trials": 500},
             {"metric": "restarts", "unit": "count", "kind": "gauge", "better": "lower", "value": 4},
             {"metric": "kernel_release", "kind": "fact", "value": "4.18.0-147.13.2.el8_1"}]}]}


def test_design_example_round_trips_exactly():
    snap = Snapshot.from_dict(json.loads(json.dumps(DESIGN_EXAMPLE)), "x.json")
    assert snap.to_dict() == DESIGN_EXAMPLE
    latency, timeouts, restarts, release = snap.results[0].measurements
    assert latency.values == (0.31, 0.29)
    assert (timeouts.events, timeouts.trials) == (3, 500)
    assert restarts.value == 4
    assert release.value == "4.18.0-147.13.2.el8_1"


def test_unknown_fields_survive_a_round_trip():
    data = json.loads(json.dumps(DESIGN_EXAMPLE))
    data["platform"] = {"openshift": "4.3.19"}
    data["results"][0]["shard"] = 7
    data["results"][0]["measurements"][0]["quantile_hint"] = "p99"
    again = Snapshot.from_json(Snapshot.from_dict(data, "x.json").to_json(), "x.json").to_dict()
    assert again["platform"] == {"openshift": "4.3.19"}
    assert again["results"][0]["shard"] == 7
    assert again["results"][0]["measurements"][0]["quantile_hint"] == "p99"


@pytest.mark.parametrize("mutate, field, expected", [
    (lambda d: d.pop("label"), "label", "required field is missing"),
    (lambda d: d.update(schema="pyperf/1.0"), "schema", "expected triage.snapshot/v1"),
    (lambda d: d["results"][0].pop("layer"), "results[0].layer", "required field is missing"),
    (lambda d: d["results"][0].update(status="meh"), "results[0].status", "expected one of ok, error, skipped"),
    (lambda d: d["results"][0]["measurements"][0].update(kind="histogram"),
     "results[0].measurements[0].kind", "expected one of samples"),
    (lambda d: d["results"][0]["measurements"][0].update(values=[1, "x"]),
     "results[0].measurements[0].values", "finite numbers"),
    (lambda d: d["results"][0]["measurements"][0].update(values=[1.0, True]),
     "results[0].measurements[0].values", "got True"),
    (lambda d: d["results"][0]["measurements"][0].update(values=[1.0, float("nan")]),
     "results[0].measurements[0].values", "got nan"),
    (lambda d: d["results"][0]["measurements"][1].update(events=501),
     "results[0].measurements[1].events", "at most trials"),
    (lambda d: d["results"][0]["measurements"][2].update(value="four"),
     "results[0].measurements[2].value", "finite number"),
])
def test_invalid_snapshot_names_file_and_field(mutate, field, expected):
    data = json.loads(json.dumps(DESIGN_EXAMPLE))
    mutate(data)
    with pytest.raises(InputFileError) as err:
        Snapshot.from_dict(data, "runs/after.json")
    message = str(err.value)
    assert message.startswith(f"runs/after.json: {field}: ")
    assert expected in message


def test_truncated_json_is_refused_with_its_path(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(DESIGN_EXAMPLE)[:80])
    with pytest.raises(InputFileError) as err:
        Snapshot.load(str(path))
    assert str(err.value).startswith(f"{path}: not valid JSON")


def test_constructors_fill_kind_specific_fields():
    m = Measurement.samples("latency", [1, 2.5])
    assert m.to_dict() == {"metric": "latency", "kind": "samples", "better": "lower", "unit": "ms", "values": [1.0, 2.5]}
    f = Measurement.fact("mtu", 1500)
    assert f.to_dict() == {"metric": "mtu", "kind": "fact", "value": 1500}
    r = ProbeResult("kernel", "tcp_connect", "loopback", measurements=(m,), notes=("x missing",))
    assert ProbeResult.from_dict(r.to_dict()) == r
