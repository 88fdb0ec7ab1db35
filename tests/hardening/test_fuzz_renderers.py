"""Issue 16, fuzzing in the suite, for the comparison loader and every renderer: hypothesis
mutates a saved comparison (bench/fuzz.py's mutations and hostile values) and writes arbitrary
text (any code point, controls and bidi overrides included, and the catalogue of hostile
strings) into every text field of a snapshot pair. Each input ends as exit 2 or a valid result,
never a traceback; every output holds no raw control character, its Markdown no live markup
(the same document as with plain names), its JUnit parses, its JSON is JSON."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from triage.errors import InputFileError
from triage.report import RenderOptions, render
from triage.verdict import Comparison

from .helpers import inproc
from .hostile import (HOSTILE_STRINGS, check_json, check_junit, check_markdown, check_terminal,
                      hostile_snapshots, plain)
from .test_fuzz_loaders import FUZZ, mutate_text, mutate_tree

FIXTURES = Path(__file__).parent.parent / "fixtures" / "compare"
BASE = json.loads((FIXTURES / "baseline-4.3.18.json").read_text())
CAND = json.loads((FIXTURES / "candidate-dns-app.json").read_text())
_SEEDS: list[str] = []


def seeds() -> list[str]:
    """Saved comparisons: a regression, none, an inconclusive one (made once, by the CLI)."""
    if not _SEEDS:
        for name in ("candidate-dns-app.json", "baseline-4.3.18-run2.json", "candidate-dns-failed.json"):
            status, out, err = inproc("compare", str(FIXTURES / "baseline-4.3.18.json"), str(FIXTURES / name),
                                      "--format", "json")
            assert status in (0, 3, 4), err
            _SEEDS.append(out)
        _SEEDS.append(_seed_with_every_section())
    return _SEEDS


def _seed_with_every_section() -> str:
    """A comparison holding what the plain fixtures lack: a load ramp, packages and changelogs
    (What changed), and the rounds of a gate that sampled until decided."""
    import tempfile

    with tempfile.TemporaryDirectory() as where:
        paths = []
        for side, snap in zip(("base", "cand"), hostile_snapshots(plain, BASE, CAND)):
            paths.append(str(Path(where) / f"{side}.json"))
            Path(paths[-1]).write_text(json.dumps(snap), encoding="utf-8")
        status, out, err = inproc("compare", *paths, "--format", "json")
    assert status == 3, err
    d = json.loads(out)
    d["rounds"] = {"max_rounds": 4, "rounds": 2, "samples": 210, "stopped": "decided",
                   "looks": [{"round": 1, "share": 0.5, "probes": ["app.http.registry"], "samples": 200,
                              "decided": 3, "undecided": 1},
                             {"round": 2, "share": 0.25, "probes": ["app.http.registry"], "samples": 10,
                              "decided": 4, "undecided": 0}],
                   "undecided": [], "decided_at": {d["metrics"][0]["id"]: 2}}
    assert d["changes"] and any(m["probe"] == "ramp" for m in d["metrics"])
    return json.dumps(d)


@FUZZ
@given(st.data())
def test_comparison_loader_and_every_renderer(tmp_path_factory, data):
    draw = data.draw
    text = draw(st.sampled_from(seeds()))
    if draw(st.booleans()):
        text = json.dumps(mutate_tree(json.loads(text), draw))
    if draw(st.integers(0, 3)) == 0:
        text = mutate_text(text, draw)
    path = tmp_path_factory.mktemp("cmp") / "cmp.json"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        comparison = Comparison.from_json(text, str(path))
    except InputFileError:
        status, out, err = inproc("report", str(path))
        assert (status, out) == (2, "") and err.count("\n") == 1, err
        check_terminal(err, "the refusal")
        return
    for fmt, check in (("markdown", None), ("junit", check_junit), ("json", check_json)):
        status, out, err = inproc("report", str(path), "--format", fmt)
        assert status == int(comparison.exit_status), (fmt, status, err[-500:])
        (check or check_terminal)(out, f"report --format {fmt}")
    for color in (False, True):
        check_terminal(render(comparison, "table", RenderOptions(color=color, width=150, show_all=True)),
                       "table", color=color)


# Any text at all (but lone surrogates, which no file holds and every loader refuses), and the catalogue.
TEXT = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12) | st.sampled_from(HOSTILE_STRINGS)


@FUZZ
@given(st.lists(TEXT, min_size=40, max_size=40))
def test_hostile_text_in_every_field_renders_inert_everywhere(tmp_path_factory, names):
    where = tmp_path_factory.mktemp("hostile")
    runs = {}
    for kind, name_of in (("hostile", lambda i: f"{names[i % len(names)]}{i}"), ("plain", plain)):
        paths = []
        for side, snap in zip(("base", "cand"), hostile_snapshots(name_of, BASE, CAND)):
            paths.append(where / f"{kind}-{side}.json")
            paths[-1].write_text(json.dumps(snap), encoding="utf-8")
        outputs = {}
        for fmt in ("table", "json", "markdown"):
            outputs["compare", fmt] = inproc("compare", *map(str, paths), "--format", fmt, "--all")
        for fmt in ("markdown", "junit"):
            outputs["report", fmt] = inproc("report", *map(str, paths), "--format", fmt, "--all")
        runs[kind] = outputs
    for (command, fmt), (status, out, err) in runs["hostile"].items():
        assert status in (0, 3, 4) and "Traceback" not in err, (command, fmt, status, err[-500:])
        check_terminal(err, f"stderr of {command} {fmt}")
        if fmt == "markdown":
            check_markdown(out, runs["plain"][command, fmt][1], f"{command} --format markdown")
        else:
            {"table": check_terminal, "json": check_json, "junit": check_junit}[fmt](out, f"{command} {fmt}")
