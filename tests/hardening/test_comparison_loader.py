"""Issue 16, item 8: a saved comparison is outside input. `triage report cmp.json` refuses
what it cannot take (exit 2, naming the file and the field) instead of passing a verdict it
does not know as 0 or crashing; a comparison it takes exits as its verdict says, and that
verdict agrees with the metrics its JUnit counts."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from triage.errors import InputFileError
from triage.verdict import Comparison

from .helpers import inproc
from .hostile import check_json, check_junit, check_markdown, check_terminal, hostile, hostile_comparison, plain

FIXTURES = Path(__file__).parent.parent / "fixtures" / "compare"


def saved(candidate: str = "candidate-dns-app.json") -> dict:
    status, out, err = inproc("compare", str(FIXTURES / "baseline-4.3.18.json"), str(FIXTURES / candidate),
                              "--format", "json")
    assert status in (0, 3, 4), err
    return json.loads(out)


@pytest.fixture(scope="module")
def good() -> dict:
    return saved()


def _set(data: dict, path: tuple, value) -> dict:
    data = copy.deepcopy(data)
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return data


def _first(data: dict, kind: str) -> int:
    return next(i for i, m in enumerate(data["metrics"]) if m["kind"] == kind)


# (name, how to spoil the good comparison, the field the error must name, words it must hold)
SPOILED = [
    ("an unknown verdict", lambda d: _set(d, ("verdict",), "Regressed"), "verdict", "regressed, ok, inconclusive"),
    ("ok while a metric regressed", lambda d: _set(d, ("verdict",), "ok"), "verdict", "regressed"),
    ("regressed while none did",
     lambda d: {**d, "metrics": [m for m in d["metrics"] if m["verdict"] != "regressed"]}, "verdict",
     "no metric regressed"),
    ("a metric verdict nobody knows", lambda d: _set(d, ("metrics", 0, "verdict"), "worse"), "metrics[0].verdict",
     "expected one of"),
    ("a sixth layer", lambda d: _set(d, ("layers",), {**d["layers"], "network": "ok"}), "layers key", "kernel"),
    ("a layer status nobody knows", lambda d: _set(d, ("layers", "dns"), "bad"), "layers.dns", "expected one of"),
    ("a suspect role nobody knows", lambda d: _set(d, ("suspects", 0, "role"), "culprit"), "suspects[0].role",
     "root, downstream"),
    ("lead past its components", lambda d: _set(d, ("metrics", 0, "lead"), 99), "metrics[0].lead", "from 0 to"),
    ("a string for a bool", lambda d: _set(d, ("metrics", 0, "ruled_out"), "no"), "metrics[0].ruled_out",
     "true or false"),
    ("a p-value over 1", lambda d: _set(d, ("metrics", 0, "components", 0, "p_adjusted"), 2),
     "metrics[0].components[0].p_adjusted", "from 0 to 1"),
    ("1e308 in a change", lambda d: _set(d, ("metrics", 0, "components", 0, "change"), 1.7e308),
     "metrics[0].components[0].change", "finite number"),
    ("a list for a summary", lambda d: _set(d, ("metrics", 0, "baseline"), [1]), "metrics[0].baseline",
     "an object"),
    ("a string for the runs", lambda d: _set(d, ("baseline", "runs"), "2"), "baseline.runs", "an integer"),
    ("metrics not a list", lambda d: _set(d, ("metrics",), {"a": 1}), "metrics", "a list"),
    ("no metrics", lambda d: {k: v for k, v in d.items() if k != "metrics"}, "metrics", "required"),
    ("a number for a target", lambda d: _set(d, ("metrics", 0, "target"), 7), "metrics[0].target", "a string"),
    ("an interval of one end", lambda d: _set(d, ("metrics", 0, "components", 0, "ci"), [1]),
     "metrics[0].components[0].ci", "[low, high]"),
    ("a foreign schema", lambda d: _set(d, ("schema",), "triage.snapshot/v1"), "schema", "triage.comparison/v1"),
    ("the top level a list", lambda d: [d], "(top level)", "a JSON object"),
]


@pytest.mark.parametrize("name, spoil, field, words", SPOILED, ids=[s[0] for s in SPOILED])
def test_a_spoiled_comparison_is_refused_naming_the_field(tmp_path, good, name, spoil, field, words):
    path = tmp_path / "cmp.json"
    path.write_text(json.dumps(spoil(good)))
    for fmt in ("markdown", "junit", "json"):
        status, out, err = inproc("report", str(path), "--format", fmt)
        assert (status, out) == (2, ""), (name, status, err)
        assert err.startswith(f"triage: error: {path}: {field}: ") and words in err, err
        assert err.count("\n") == 1


TEXT_SPOILED = [
    ("a duplicate verdict", lambda t: t.replace('"verdict":"regressed"', '"verdict":"ok","verdict":"regressed"', 1),
     "appears twice"),
    ("NaN", lambda t: t.replace('"alpha":0.01', '"alpha":NaN', 1), "alpha"),
    ("a lone surrogate", lambda t: t.replace('"reason":"', '"reason":"\\ud800', 1), "lone surrogate"),
    ("a 5,000-digit integer", lambda t: t.replace('"tests":', '"tests":' + "9" * 5000 + ",\"x\":", 1), "digits"),
    ("nested 5,000 deep", lambda t: t.replace('"budget":null', '"budget":null,"x":' + "[" * 5000 + "]" * 5000, 1),
     "nested too deep"),
    ("nested 50 deep", lambda t: t.replace('"budget":null', '"budget":null,"x":' + "[" * 50 + "]" * 50, 1),
     "levels of nesting"),
    ("truncated", lambda t: t[:200], "not valid JSON"),
]


@pytest.mark.parametrize("name, spoil, words", TEXT_SPOILED, ids=[s[0] for s in TEXT_SPOILED])
def test_a_comparison_that_is_no_strict_json_is_refused(tmp_path, good, name, spoil, words):
    text = json.dumps(good, sort_keys=True, separators=(",", ":"))
    path = tmp_path / "cmp.json"
    path.write_text(spoil(text), encoding="utf-8", errors="surrogatepass")
    status, out, err = inproc("report", str(path))
    assert (status, out) == (2, ""), (name, err)
    assert err.startswith(f"triage: error: {path}: ") and words in err, err


@pytest.mark.parametrize("candidate, code", [("candidate-dns-app.json", 3), ("baseline-4.3.18-run2.json", 0),
                                             ("candidate-dns-failed.json", 4)])
def test_the_exit_code_of_a_saved_comparison_follows_its_verdict(tmp_path, candidate, code):
    data = saved(candidate)
    path = tmp_path / "cmp.json"
    path.write_text(json.dumps(data))
    for fmt in ("markdown", "junit", "json"):
        status, out, err = inproc("report", str(path), "--format", fmt)
        assert status == code == {"regressed": 3, "ok": 0, "inconclusive": 4}[data["verdict"]], err
        if fmt == "junit":
            failures = int(check_junit(out, "junit").get("failures"))
            assert (failures > 0) == (code == 3)  # the JUnit and the exit code agree


def test_an_unknown_verdict_never_maps_to_exit_0(good):
    c = Comparison.from_dict(good)
    broken = copy.copy(c)
    object.__setattr__(broken, "verdict", "Regressed")
    with pytest.raises(KeyError):
        broken.exit_status  # a crash (exit 1) at worst, never a pass


def test_from_dict_is_as_strict_as_the_file_loader(good):
    with pytest.raises(InputFileError, match="verdict"):
        Comparison.from_dict(_set(good, ("verdict",), "Regressed"))
    assert Comparison.from_dict(good).to_dict() == Comparison.from_dict(json.loads(json.dumps(good))).to_dict()


def test_hostile_text_in_every_field_of_a_saved_comparison_renders_inert(tmp_path, good):
    paths = {}
    for name, name_of in (("hostile", hostile), ("plain", plain)):
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(hostile_comparison(name_of, good)))
    outputs = {}
    for name, path in paths.items():
        for fmt in ("markdown", "junit", "json"):
            status, out, err = inproc("report", str(path), "--format", fmt)
            assert status == 3, err
            outputs[name, fmt] = out
        status, out, err = inproc("report", str(path), "--format", "markdown", "--all")
        outputs[name, "all"] = out
    check_markdown(outputs["hostile", "markdown"], outputs["plain", "markdown"], "report of a hostile comparison")
    check_markdown(outputs["hostile", "all"], outputs["plain", "all"], "report --all of a hostile comparison")
    check_junit(outputs["hostile", "junit"], "junit of a hostile comparison")
    assert check_json(outputs["hostile", "json"], "json")["reason"] == hostile_comparison(hostile, good)["reason"]
    from triage.report import RenderOptions, render

    c = Comparison.from_dict(hostile_comparison(hostile, good))
    for color in (False, True):
        check_terminal(render(c, "table", RenderOptions(color=color, width=200, show_all=True)), "table",
                       color=color)
