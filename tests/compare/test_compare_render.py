"""Renderers: golden Markdown, the terminal view with and without colour, escaping."""

from __future__ import annotations

import os

from triage.judge import compare_snapshots
from triage.model import Measurement, ProbeResult, Snapshot
from triage.report import RenderOptions, json_out, markdown, render, terminal
from triage.engine import compare_sides

GOLDEN = "expected-dns-app.md"


def _dns_app(fixture_path):
    return compare_sides(fixture_path("baseline-4.3.18.json"), fixture_path("candidate-dns-app.json"))


def test_markdown_matches_golden(fixture_path):
    """Regenerate after an intended change: TRIAGE_UPDATE_GOLDEN=1 pytest tests/compare."""
    text = markdown.render(_dns_app(fixture_path))
    path = os.path.join(os.path.dirname(fixture_path("make_fixtures.py")), GOLDEN)
    if os.environ.get("TRIAGE_UPDATE_GOLDEN"):
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    with open(path, encoding="utf-8") as fh:
        assert text == fh.read()


def test_terminal_plain_and_coloured(fixture_path):
    c = _dns_app(fixture_path)
    plain = terminal.render(c, RenderOptions(color=False, width=160))
    assert "\x1b[" not in plain
    lines = plain.splitlines()
    assert lines[0].strip().startswith("REGRESSED")
    layer_rows = [line.split() for line in lines if line.split()[:1] in (["kernel"], ["dns"], ["app"])]
    assert layer_rows[0][:2] == ["kernel", "ok"] and layer_rows[1][:2] == ["dns", "regressed"]
    assert any("ROOT SUSPECT dns regressed: median resolve latency of quay-db" in line for line in lines)
    assert any(line.lstrip("│ ").startswith("downstream   app regressed") for line in lines)
    # Most severe first: the two regressions before the changed fact.
    order = [name for name in ("dns.resolve.quay-db.latency", "app.http.registry.latency", "dns.config.local.nameservers")
             if name in plain]
    assert sorted(order, key=plain.index) == order
    coloured = terminal.render(c, RenderOptions(color=True, width=160))
    assert "\x1b[" in coloured and "\x1b[1;31m" in coloured  # bold red for regressed


def test_untrusted_text_is_escaped():
    target = "evil|target*[x](http://e)"

    def snap(value: float, fact: str) -> Snapshot:
        ms = (Measurement.samples("latency", [value + i / 100 for i in range(20)]), Measurement.fact("banner", fact))
        return Snapshot("a", "T", "h", "0", (ProbeResult("app", "http", target, measurements=ms),))
    c = compare_snapshots([snap(5, "<b>hi</b>")], [snap(9, "[red]boom[/red] `x`")])
    md = markdown.render(c, RenderOptions(show_all=True))
    assert "evil\\|target\\*\\[x\\](http://e)" in md
    assert "&lt;b&gt;hi&lt;/b&gt;" in md and "\\`x\\`" in md
    assert "| evil|" not in md
    plain = terminal.render(c, RenderOptions(color=False, show_all=True, width=200))
    assert "[red]boom[/red]" in plain  # shown literally, not taken as rich markup


def test_json_renderer_is_the_contract(fixture_path):
    import json

    c = _dns_app(fixture_path)
    text = render(c, "json")
    assert text == json_out.render(c)
    assert text.endswith("\n") and "\n" not in text[:-1]
    assert json.loads(text)["verdict"] == "regressed"
