"""Charts people can read: one quantile-curve chart per root-suspect probe target (p50 → p99.9,
one line per version), changes past 3× as factors, and `triage report --charts-dir` writing PNG
and SVG files that open, linked from the Markdown; without matplotlib, exit 2 naming the extra."""

from __future__ import annotations

import json
import os
import random
import re
import sys
import xml.etree.ElementTree as ET

import pytest

from triage.formatting import format_relative
from triage.judge import compare_snapshots
from triage.model import Measurement, ProbeResult, Snapshot
from triage.report import charts

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "compare")
BASE = os.path.join(FIXTURES, "baseline-4.3.18.json")
DNS_APP = os.path.join(FIXTURES, "candidate-dns-app.json")
NAMES = ("quay-db.quay.svc", "quay-storage.quay.svc", "quay-redis.quay.svc")


@pytest.mark.parametrize("relative, text", [
    (128.21, "129×"), (2.0, "3×"), (3.16, "4.16×"), (1.99, "+199%"), (0.5, "+50%"), (0.042, "+4.2%"),
    (-0.35, "-35%"), (-0.66, "-66%"), (-0.95, "÷20"), (-1.0, "-100%"), (0.0, "±0%"), (None, "±0%")])
def test_relative_changes_past_3x_read_as_a_factor(relative, text):
    assert format_relative(relative) == text


def _hunt(label: str, slow: float, n: int = 200) -> Snapshot:
    """The demo's shape: A and AAAA of three names at one resolver, and an app downstream."""
    rng = random.Random(label)
    results = [ProbeResult("dns", "resolve", f"{name}@cluster-dns", measurements=tuple(
        Measurement.samples(f"latency_{q}", [0.07 * rng.lognormvariate(0, 0.4) + slow for _ in range(n)])
        for q in ("A", "AAAA"))) for name in NAMES]
    results.append(ProbeResult("app", "http", "registry", measurements=(
        Measurement.samples("latency", [7 * rng.lognormvariate(0, 0.2) + 7 * slow for _ in range(n)]),)))
    return Snapshot(label, "2026-11-23T15:00:00Z", "node-1", "0.1.0", tuple(results))


def test_one_chart_per_root_suspect_target_with_one_line_per_version():
    c = compare_snapshots([_hunt("4.3.18", 0.0)], [_hunt("4.3.19", 3.3)], baseline_spec="4.3.18",
                          candidate_spec="4.3.19")
    assert [s.layer for s in c.suspects if s.role == "root"] == ["dns"]
    drawn = charts.charts(c)
    # Six regressed metrics, three targets: three charts, each with both qtypes side by side.
    assert sorted(ch.target for ch in drawn) == sorted(f"{n}@cluster-dns" for n in NAMES)
    for chart in drawn:
        assert chart.metrics == ("latency_A", "latency_AAAA")
        assert chart.labels == tuple(f"{q} {p}" for q in ("A", "AAAA")
                                     for p in ("p50", "p75", "p90", "p95", "p99", "p99.9"))
        assert chart.log_scale  # 0.07 ms against 3.4 ms: more than a decade
        block = "\n".join(charts.mermaid(chart))
        assert block.count("\n    line [") == 2 and "bar [" not in block
        assert '"log10 of ms (-2 = 0.01 / -1 = 0.1 / 0 = 1 / 1 = 10)"' in block
        baseline_line = re.search(r"line \[(.*?)\]", block).group(1).split(", ")
        assert len(baseline_line) == 12 and float(baseline_line[0]) < -1  # log10 of ~0.07 ms
    # The quantiles a chart draws come from the comparison and survive its JSON.
    again = type(c).from_json(json.dumps(c.to_dict()), "saved")
    assert [ch.candidate for ch in charts.charts(again)] == [ch.candidate for ch in drawn]
    side = c.to_dict()["metrics"][0]["candidate"]
    assert side["p75"] <= side["p90"] <= side["p95"] <= side["p99"] <= side["p999"]


def test_the_markdown_report_has_no_percentages_past_3x(triage):
    md = triage("report", BASE, DNS_APP).stdout
    assert not re.search(r"[+-]\d{3,}%", md)
    assert "+1.2 ms (5.1×" in md
    assert md.count("```mermaid") == 1 and "Blue: 4.3.18 (n = 200); red: 4.3.19 (n = 200)." in md


def test_charts_dir_writes_png_and_svg_that_open_linked_from_the_report(triage, tmp_path):
    from PIL import Image

    (tmp_path / "out").mkdir()
    out = triage("report", BASE, DNS_APP, "-o", "out/r.md", "--charts-dir", "out/charts")
    assert out.code == 3, out.stderr
    files = sorted(os.listdir(tmp_path / "out" / "charts"))
    assert len(files) == 2 and {f.rsplit(".", 1)[1] for f in files} == {"png", "svg"}
    png = tmp_path / "out" / "charts" / files[0]
    with Image.open(png) as image:
        image.verify()  # a whole, valid PNG
    with Image.open(png) as image:
        assert image.format == "PNG" and image.size == (800, 450)
    svg = ET.parse(tmp_path / "out" / "charts" / files[1]).getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    md = (tmp_path / "out" / "r.md").read_text()
    links = re.findall(r"\]\(<([^>]+)>\)", md)
    assert sorted(os.path.basename(link) for link in links) == files
    for link in links:  # relative to the report, where a reader opens it
        assert (tmp_path / "out" / link).is_file()


def test_without_matplotlib_charts_dir_is_exit_2_naming_the_extra(triage, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # what an install without the extra looks like
    out = triage("report", BASE, DNS_APP, "-o", "r.md", "--charts-dir", "charts")
    assert out.code == 2
    assert out.stderr == ("triage: error: --charts-dir draws PNG and SVG with matplotlib, which is not installed: "
                          "pip install 'triage[charts]'\n")
    assert not (tmp_path / "r.md").exists() and not (tmp_path / "charts").exists()
