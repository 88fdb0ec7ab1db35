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


def _with_groups(groups):
    data = json.loads(json.dumps(DESIGN_EXAMPLE))
    data["results"][0]["measurements"][0].update(values=[0.3, 0.29, 0.31, 0.5, 0.4], groups=groups)
    return data


def test_groups_of_a_samples_measurement_round_trip_with_unknown_fields():
    data = _with_groups([2, 3])
    data["results"][0]["measurements"][0]["quantile_hint"] = "p99"
    snap = Snapshot.from_dict(data, "x.json")
    latency = snap.results[0].measurements[0]
    assert latency.groups == (2, 3)
    assert "groups" not in latency.extra
    again = Snapshot.from_json(snap.to_json(), "x.json")
    assert again.to_dict() == data
    assert again.results[0].measurements[0].groups == (2, 3)


def test_a_snapshot_without_groups_loads_and_writes_none():
    latency = Snapshot.from_dict(json.loads(json.dumps(DESIGN_EXAMPLE)), "x.json").results[0].measurements[0]
    assert latency.groups is None
    assert "groups" not in latency.to_dict()


@pytest.mark.parametrize("groups, expected", [
    ([2, 2], "got sizes summing to 4"),
    ([2, 4], "got sizes summing to 6"),
    ([5, 0], "got [5, 0]"),
    ([3, -1, 3], "got [3, -1, 3]"),
    ([2, 3.0], "got [2, 3.0]"),
    ([True, 4], "got [True, 4]"),
    ("2,3", "got '2,3'"),
    (5, "got 5"),
])
def test_bad_groups_name_the_field_and_what_was_expected(groups, expected):
    with pytest.raises(InputFileError) as err:
        Snapshot.from_dict(_with_groups(groups), "runs/after.json")
    message = str(err.value)
    assert message.startswith("runs/after.json: results[0].measurements[0].groups: expected a list of positive "
                              "integers summing to the 5 values, ")
    assert message.endswith(expected)


def test_bad_groups_are_exit_2_with_one_line_naming_the_file_and_field(tmp_path, triage):
    (tmp_path / "a.json").write_text(json.dumps(_with_groups([2, 3])))
    (tmp_path / "b.json").write_text(json.dumps(_with_groups([2, 2])))
    out = triage("compare", "a.json", "b.json", cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "triage: error: b.json: results[0].measurements[0].groups: expected a list of positive integers summing "
        "to the 5 values, got sizes summing to 4"]


def test_groups_on_another_kind_is_an_unknown_field_kept_as_is():
    data = json.loads(json.dumps(DESIGN_EXAMPLE))
    data["results"][0]["measurements"][1]["groups"] = ["whatever"]
    m = Snapshot.from_dict(data, "x.json").results[0].measurements[1]
    assert m.groups is None and m.extra == {"groups": ["whatever"]}
    assert m.to_dict()["groups"] == ["whatever"]


def test_the_samples_constructor_records_groups_and_refuses_sizes_that_do_not_add_up():
    m = Measurement.samples("latency", [1, 2, 3], groups=[1, 2])
    assert m.to_dict()["groups"] == [1, 2] and m.groups == (1, 2)
    assert Measurement.samples("latency", [1, 2, 3]).groups is None
    with pytest.raises(ValueError, match="summing to 3 values"):
        Measurement.samples("latency", [1, 2, 3], groups=[1, 1])
    with pytest.raises(ValueError, match="positive sizes"):
        Measurement.samples("latency", [1, 2, 3], groups=[3, 0])
