"""`triage report`: Markdown that parses as GFM with its tables intact, JUnit that CI reads."""

import html
import json
import os
import shlex
import xml.etree.ElementTree as ET

import pytest
from markdown_it import MarkdownIt

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "compare")
BASE = os.path.join(FIXTURES, "baseline-4.3.18.json")
DNS_APP = os.path.join(FIXTURES, "candidate-dns-app.json")
HOSTILE = "a|b<script>alert(1)</script>`x`*y*"


def tables(markdown: str):
    """Each GFM table as (header cells, [row cells]), from a real CommonMark+tables parser."""
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    out, current, row, in_head = [], None, None, False
    for tok in tokens:
        if tok.type == "table_open":
            current = {"head": [], "rows": []}
        elif tok.type == "thead_open":
            in_head = True
        elif tok.type == "thead_close":
            in_head = False
        elif tok.type == "tr_open":
            row = []
        elif tok.type == "inline" and row is not None and current is not None:
            row.append(tok.content)
        elif tok.type == "tr_close":
            (current["head"] if in_head else current["rows"]).append(row)
            row = None
        elif tok.type == "table_close":
            out.append((current["head"][0], current["rows"]))
            current = None
    return out, tokens


def rename_target(src, dest, old, new):
    data = json.loads(open(src).read())
    for r in data["results"]:
        if r["target"] == old:
            r["target"] = new
    dest.write_text(json.dumps(data))
    return str(dest)


def test_markdown_report_names_root_and_downstream_and_parses_as_gfm(triage, tmp_path):
    out = triage("report", BASE, DNS_APP, "-o", "r.md")
    assert out.code == 3, out.stderr
    md = (tmp_path / "r.md").read_text()
    assert "**Verdict: regressed**: root suspect dns; downstream app." in md
    assert "### dns: root suspect" in md and "### app: downstream" in md
    assert "```mermaid\n%%{init:" in md and "\nxychart-beta\n" in md
    parsed, tokens = tables(md)
    heads = [h[0] for h, _ in parsed]
    assert heads[:2] == ["layer", "metric"]
    for head, rows in parsed:
        assert all(len(r) == len(head) for r in rows)  # no cell split or swallowed
    layer_rows = {r[0]: r[1] for r in parsed[0][1]}
    assert layer_rows["dns"].endswith("regressed") and layer_rows["kernel"].endswith("ok")
    metric_rows = {r[0]: r for r in parsed[1][1]}
    assert metric_rows["dns.resolve.quay-db.latency"][-1] == "regressed"
    assert "## Reproduce" in md and f"triage compare {BASE} {DNS_APP}" in md


def test_no_charts_leaves_out_mermaid(triage, tmp_path):
    out = triage("report", BASE, DNS_APP, "--no-charts")
    assert out.code == 3
    assert "mermaid" not in out.stdout and "## Metrics" in out.stdout


def test_untrusted_target_names_are_escaped(triage, tmp_path):
    base = rename_target(BASE, tmp_path / "b.json", "registry", HOSTILE)
    cand = rename_target(DNS_APP, tmp_path / "c.json", "registry", HOSTILE)
    out = triage("report", base, cand, "--all")
    assert out.code == 3
    assert "<script>" not in out.stdout
    parsed, tokens = tables(out.stdout)
    assert not any(t.type in ("html_inline", "html_block") for t in tokens)
    for inline in (t for t in tokens if t.type == "inline"):
        assert not any(c.type in ("html_inline", "code_inline") for c in inline.children or [])
    for head, rows in parsed:
        assert all(len(r) == len(head) for r in rows)
    # Rendered, the cell shows the original text exactly: nothing lost, nothing executed.
    rendered = MarkdownIt("commonmark").enable("table").render(out.stdout)
    assert "<script>" not in rendered
    assert f"<td>app.http.{html.escape(HOSTILE, quote=False)}.latency</td>" in rendered


def test_junit_has_one_testcase_per_metric_and_a_failure_per_regression(triage, tmp_path):
    out = triage("report", BASE, DNS_APP, "--format", "junit", "-o", "j.xml")
    assert out.code == 3
    suite = ET.parse(tmp_path / "j.xml").getroot()
    cases = suite.findall("testcase")
    compared = json.loads(triage("compare", BASE, DNS_APP, "--format", "json").stdout)
    assert len(cases) == len(compared["metrics"]) == int(suite.get("tests"))
    failed = sorted(f"{c.get('classname')}.{c.get('name')}" for c in cases if c.find("failure") is not None)
    assert failed == ["app.http.registry.latency", "dns.resolve.quay-db.latency"]
    assert suite.get("failures") == "2"


def test_report_rerenders_a_saved_comparison(triage, tmp_path):
    saved = triage("compare", BASE, DNS_APP, "--format", "json")
    (tmp_path / "cmp.json").write_text(saved.stdout)
    out = triage("report", "cmp.json")
    assert out.code == 3
    assert "root suspect dns" in out.stdout
    (tmp_path / "cut.json").write_text(saved.stdout[:100])
    bad = triage("report", "cut.json")
    assert bad.code == 2 and "cut.json" in bad.stderr


@pytest.mark.parametrize("fmt", ["xml", "html"])
def test_unknown_format_is_bad_input(triage, fmt):
    out = triage("report", BASE, DNS_APP, "--format", fmt)
    assert out.code == 2 and "--format" in out.stderr


def test_unknown_format_is_refused_before_any_file_is_read(triage):
    # Reading either file would fail differently ("no such snapshot JSON file").
    out = triage("report", "missing-a.json", "missing-b.json", "--format", "xml")
    assert (out.code, out.stdout) == (2, "")
    assert out.stderr == "triage: error: --format: expected one of markdown, json, junit, got 'xml'\n"
    unwritable = triage("report", "missing-a.json", "missing-b.json", "-o", "no/such/dir/r.md")
    assert unwritable.code == 2 and "--out no/such/dir/r.md: cannot write" in unwritable.stderr


def test_reproduce_lists_the_commands_of_this_comparison(triage, tmp_path):
    budget = tmp_path / "wide.yaml"
    budget.write_text("rules:\n  - match: '*'\n    relative: 100\n")
    md = triage("report", BASE, DNS_APP, "--budget", "wide.yaml", "--alpha", "0.05").stdout
    reproduce = md[md.index("## Reproduce"):]
    assert f"triage compare {BASE} {DNS_APP} --budget wide.yaml --alpha 0.05" in reproduce
    assert f"triage report {BASE} {DNS_APP} --budget wide.yaml --alpha 0.05 -o triage-report.md" in reproduce
    assert "triage probe" not in reproduce  # files are not probed again; only labels are


def test_a_comparison_of_labels_reproduces_from_the_stored_runs(triage, tmp_path):
    """Labels taken before and after an upgrade cannot both be probed again: the block compares
    the runs stored, and running its commands gives the same verdict."""
    for label, path in (("4.3.18", BASE), ("4.3.19", DNS_APP)):
        assert triage("baseline", "save", label, path, "--store", "S").code == 0
    first = triage("report", "4.3.18", "4.3.19", "--store", "S", "-o", "r.md")
    assert first.code == 3
    md = (tmp_path / "r.md").read_text()
    block = md[md.index("## Reproduce"):].split("```")[1].splitlines()[1:]
    assert block == ["triage compare 4.3.18 4.3.19 --store S", "triage report 4.3.18 4.3.19 --store S -o triage-report.md"]
    for command in block:
        again = triage(*shlex.split(command)[1:])
        assert again.code == first.code
    assert (tmp_path / "triage-report.md").read_text().split("## Environment")[0] == md.split("## Environment")[0]
