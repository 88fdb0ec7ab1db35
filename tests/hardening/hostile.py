"""Hostile text for the renderer tests (issue 16, items 2, 3, 9): strings that try every way
out of a terminal, a Markdown document, a Mermaid chart, an XML file and a JSON document;
snapshots and comparisons carrying them in every text field; and the checks that each output
stayed inert: no raw control character, no live markup, well-formed XML, valid JSON.

"No live markup" is checked structurally: the Markdown of hostile names must parse into the
same document (the same blocks, the same inline markup) as the Markdown of plain names, so
whatever a string tries, it can only ever be text.
"""

from __future__ import annotations

import copy
import json
import re
import xml.etree.ElementTree as ET
from typing import Any, Callable

from markdown_it import MarkdownIt

HOSTILE_STRINGS = [
    "$\\frac{$ $$",  # matplotlib mathtext (a chart image's legend: the first side's label)
    "\x1b]52;c;ZXZpbA==\x07",  # OSC 52: write the clipboard
    "\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\",  # OSC 8 hyperlink
    "\x1b]0;pwned title\x07",  # OSC 0: window title
    "\x1b[31mred\x1b[0m\x1b[2J\x1b[H",  # SGR, clear screen, cursor home
    "\x9b2J",  # C1 CSI
    "[link=https://evil.example]click[/link]",
    "[/x]",
    "[bold red]loud[/]",
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "a|b\rc\nd",
    "```\n# PWNED\n```",
    "\u202eevil\u202c\u2066x\u2069",
    "*emph* _u_ `code` ~~s~~ [l](http://x) ![i](http://x)",
    "- item",
    "1. item",
    "# heading",
    "> quote",
    "    indented",
    "===",
    "&lt;&amp;&#60;",
    "\"quote\" 'q' %%{init: {'theme':'dark'}}%%",
    "\x00\x08\x7f\x0b\x0c",
    "line\u2028sep\u2029",
    "\\",
    ":smile: :warning:",
]

# Every character a terminal, a parser or a reader could act on; \n is the outputs' own.
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
SGR = re.compile(r"\x1b\[[0-9;]*m")  # the only escapes a coloured table of ours may hold


def hostile(i: int) -> str:
    return f"{HOSTILE_STRINGS[i % len(HOSTILE_STRINGS)]}{i}"


def plain(i: int) -> str:
    return f"name{i}"


def assert_no_raw_control(text: str, where: str, *, color: bool = False) -> None:
    if color:
        text = SGR.sub("", text)
    found = RAW_CONTROL.search(text)
    assert found is None, f"{where}: raw {found.group()!r} at {found.start()}: {text[max(0, found.start() - 60):found.start() + 20]!r}"


# ---------------------------------------------------------------- inputs


def _renamer(name_of: Callable[[int], str]) -> Callable[[str], str]:
    names: dict[str, str] = {}

    def rename(old: str) -> str:
        if old not in names:
            names[old] = name_of(len(names))
        return names[old]
    return rename


def hostile_snapshots(name_of: Callable[[int], str], base: dict, cand: dict) -> tuple[dict, dict]:
    """``base`` and ``cand`` with every text field renamed by ``name_of`` (the same old text gets the
    same new text on both sides, so metrics still pair up), a fact changed, a failed probe and
    unknown fields added on the candidate."""
    rename = _renamer(name_of)
    out = []
    for side, snap in (("b", base), ("c", cand)):
        s = copy.deepcopy(snap)
        s["label"], s["host"] = rename(f"label {side}"), rename(f"host {side}")
        s["tool_version"] = rename("tool version")
        s["note"] = {rename("extra key"): [rename("extra value")]}
        for r in s["results"]:
            r["probe"], r["target"] = rename(r["probe"]), rename(r["target"])
            r["notes"] = [rename(f"note {r['probe']}")]
            for m in r["measurements"]:
                m["metric"] = rename(m["metric"])
                if m.get("unit") and m["unit"] != "ms":  # latency keeps its unit: only time units are charted
                    m["unit"] = rename(m["unit"])
                if m["kind"] == "fact":
                    m["value"] = rename(f"fact {side} {m['metric']}") if side == "c" else rename(f"fact b {m['metric']}")
        # A package with a hostile name and, on the candidate, a hostile changelog entry: what
        # `triage changes` and the report's "What changed" show.
        package, version = rename("package"), "2.28-101.el8" if side == "b" else "2.28-127.el8"
        entries = [{"version": version, "text": rename("changelog entry")}] if side == "c" else []
        s["results"].append({"layer": "kernel", "probe": "packages", "target": "local", "status": "ok",
                             "duration_s": 0.1, "measurements": [
                                 {"metric": "package_manager", "kind": "fact", "value": "rpm"},
                                 {"metric": "packages", "kind": "fact", "value": {package: version, "glibc": version}},
                                 {"metric": "package_sources", "kind": "fact", "value": {}},
                                 {"metric": "changelogs", "kind": "fact", "value": {package: entries}}]})
        # A load ramp whose capacity fell: the snapshot table's ramp notes, the report's Load ramps
        # section and its chart, with a hostile target and note (probe and metric names are grammar).
        slow = 1.0 if side == "b" else 40.0
        s["results"].append({"layer": "app", "probe": "ramp", "target": rename("ramp target"), "status": "ok",
                             "duration_s": 4.0, "notes": [rename(f"ramp note {side}")], "measurements": [
                                 *({"metric": f"latency@{rate}rps", "kind": "samples", "better": "lower",
                                    "unit": "ms", "groups": [20] * 10,
                                    "values": [(slow if rate == 100 else 1.0) * (1 + (i * 37 % 100) / 100)
                                               for i in range(200)]} for rate in (50, 100)),
                                 *({"metric": f"errors@{rate}rps", "kind": "proportion", "events": 0,
                                    "trials": 200} for rate in (50, 100)),
                                 {"metric": "capacity", "kind": "gauge", "better": "higher", "unit": "req/s",
                                  "value": 100 if side == "b" else 50,
                                  "capacity": {"slo_ms": 10.0, "bound": "measured", "unit": "req/s"}}]})
        if side == "c":
            s["results"].append({"layer": "database", "probe": rename("db probe"), "target": rename("db target"),
                                 "status": "error", "error": rename("db error"), "duration_s": 0.1,
                                 "measurements": []})
            s["results"].append({"layer": "kubernetes", "probe": rename("kube probe"), "target": rename("kube"),
                                 "status": "ok", "duration_s": 0.1, "measurements": [
                                     {"metric": rename("kube fact"), "kind": "fact",
                                      "value": {rename("fact key"): [rename("fact item"), 1, None]}}]})
        out.append(s)
    return out[0], out[1]


def hostile_comparison(name_of: Callable[[int], str], comparison: dict) -> dict:
    """A saved comparison with every free-text field (not the verdicts, kinds and layers its
    schema fixes) renamed by ``name_of``."""
    c = copy.deepcopy(comparison)
    rename = _renamer(name_of)
    c["reason"], c["budget"] = rename("reason"), rename("budget")
    c["layer_notes"] = {k: rename(f"note {k}") for k in c["layers"]}
    c["commands"] = [rename(f"command {i}") for i in range(2)]
    for side in ("baseline", "candidate"):
        info = c[side]
        info["spec"], info["source"] = rename(f"spec {side}"), rename(f"source {side}")
        info["labels"] = [rename(f"label {side}")]
        info["hosts"] = [rename(f"host {side}")]
        info["taken_at"] = [rename(f"time {side}")]
        info["failures"] = [{"layer": "database", "probe": rename("failed probe"), "target": rename("failed target"),
                             "error": rename("failed error"), "runs": 1, "of_runs": 1, "blocking": True}]
    for s in c["suspects"]:
        s["because"] = rename(f"because {s['layer']}")
        for e in s["evidence"]:
            e["text"], e["metric"] = rename(f"evidence {e['text']}"), rename(f"evidence id {e['metric']}")
    for m in c["metrics"]:
        for key in ("probe", "target", "metric", "reason"):
            m[key] = rename(m[key]) if m.get(key) else m.get(key)
        m["unit"] = rename(m["unit"]) if m.get("unit") else m.get("unit")
        for comp in m.get("components") or ():
            comp["note"], comp["method"] = rename(f"note {comp['note']}"), rename(f"method {comp['method']}")
            if m["kind"] == "fact":
                comp["baseline"], comp["candidate"] = rename(f"fb {comp['baseline']}"), rename(f"fc {comp['candidate']}")
        if m.get("floors"):
            m["floors"]["source"] = rename(f"floor {m['floors'].get('source')}")
    return c


# ---------------------------------------------------------------- outputs


def markdown_shape(md: str) -> list:
    """The document's structure: block tokens and the inline markup inside them, text collapsed
    (a Mermaid fence's body reduced to its line prefixes: what each line is, not what it says)."""
    shape: list = []
    rows: list | None = None  # inside a table body: its rows, compared as a multiset (rows sort by name)
    for tok in MarkdownIt("commonmark").enable("table").parse(md):
        if tok.type == "tbody_open":
            rows, shape = [], shape + ["tbody_open"]
            outer, shape = shape, []
            continue
        if tok.type == "tbody_close" and rows is not None:
            shape = outer + [("rows", tuple(sorted(map(str, rows)))), "tbody_close"]
            rows = None
            continue
        if tok.type == "inline":
            kinds = [c.type for c in tok.children or []]
            collapsed = [k for i, k in enumerate(kinds) if k != "text" or i == 0 or kinds[i - 1] != "text"]
            shape.append(("inline", tuple(collapsed)))
        elif tok.type == "fence":
            lines = tok.content.splitlines()
            shape.append(("fence", tok.info, tuple(re.sub(r'"[^"]*"', '""', line).split(" [")[0] for line in lines)
                          if tok.info == "mermaid" else len(lines)))
        else:
            shape.append(tok.type)
        if tok.type == "tr_close" and rows is not None:
            rows.append(tuple(shape))
            shape = []
    return shape


def check_markdown(md: str, plain_md: str, where: str) -> None:
    assert_no_raw_control(md, where)
    assert markdown_shape(md) == markdown_shape(plain_md), f"{where}: hostile text changed the document's structure"
    html = MarkdownIt("commonmark").enable("table").render(md)
    for live in ("<script", "<img", "<a href"):  # the structure check above covers the rest
        assert live not in html, (where, live)


def check_junit(text: str, where: str) -> ET.Element:
    assert_no_raw_control(text, where)
    return ET.fromstring(text.encode("utf-8"))  # raises on anything not well-formed


def _no_constant(name: str) -> Any:
    raise AssertionError(f"JSON holds {name}, which is not JSON")


def check_json(text: str, where: str) -> Any:
    assert_no_raw_control(text, where)
    assert text.isascii(), where
    return json.loads(text, parse_constant=_no_constant)


def check_terminal(text: str, where: str, *, color: bool = False) -> None:
    assert_no_raw_control(text, where, color=color)
    assert "\x1b]" not in text and "\x9b" not in text, where  # no OSC (clipboard, title, link), no C1 CSI
