"""The terminal view fits the width it is given (80-160 columns) and never breaks a metric id
mid-word: rows are grouped under a `layer.probe · target` heading printed whole, each row
names its metric whole. Rendered through the CLI with the Environment's width, and with
$COLUMNS, as a person's shell sets it."""

from __future__ import annotations

import random

import pytest

from triage.cli.env import environment_from
from triage.model import Measurement, ProbeResult, Snapshot

WIDTHS = (80, 100, 120, 140, 160)
NODES = ("ip-10-0-131-5.ec2.internal", "ip-10-0-141-12.ec2.internal")


def _latency(rng: random.Random, median: float, n: int = 60) -> list[float]:
    return [median * rng.lognormvariate(0, 0.2) for _ in range(n)]


def _snapshot(label: str, slow: float, kernel: str) -> Snapshot:
    """Results with the ids people meet: DNS names at a named resolver, an app URL, a database
    query, kernel counters and per-node facts of the kubernetes layer."""
    rng = random.Random(label)
    results = []
    for name in ("quay-db.quay.svc", "quay-storage.quay.svc", "quay-redis.quay.svc"):
        ms = [Measurement.samples(f"latency_{q}", _latency(rng, 0.07 + slow)) for q in ("A", "AAAA")]
        ms += [Measurement.proportion(f"timeouts_{q}", int(slow > 0), 180) for q in ("A", "AAAA")]
        results.append(ProbeResult("dns", "resolve", f"{name}@cluster-dns", measurements=tuple(ms)))
    results.append(ProbeResult("app", "http", "registry", measurements=(
        Measurement.samples("latency", _latency(rng, 7 + 20 * slow)),
        Measurement.proportion("status_5xx", int(10 * slow), 200))))
    results.append(ProbeResult("database", "query", "registry-db/image-layer-fetch", measurements=(
        Measurement.samples("latency", _latency(rng, 0.7 + 100 * slow)),
        Measurement.gauge("seq_scans_on_large_tables", int(slow > 0)))))
    results.append(ProbeResult("kernel", "counters", "local", measurements=(
        Measurement.gauge("conntrack_insert_failed", 0), Measurement.gauge("TcpExt.TCPSynRetrans", 3))))
    results.append(ProbeResult("kubernetes", "nodes", "cluster", measurements=tuple(
        Measurement.fact(f"kernel_version[{node}]", kernel) for node in NODES)))
    return Snapshot(label, "2026-11-23T15:00:00Z", "node-1", "0.1.0", tuple(results))


@pytest.fixture
def sides(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(_snapshot("4.3.18", 0.0, "4.18.0-147.8.1.el8_1.x86_64").to_json())
    b.write_text(_snapshot("4.3.19", 3.3, "4.18.0-147.13.2.el8_1.x86_64").to_json())
    return str(a), str(b)


def _ids(plain: str) -> tuple[list[str], list[str]]:
    headings = [f"{layer}.{probe} · {target}" for layer, probe, target in (
        *(("dns", "resolve", f"{n}@cluster-dns") for n in ("quay-db.quay.svc", "quay-storage.quay.svc",
                                                           "quay-redis.quay.svc")),
        ("app", "http", "registry"), ("database", "query", "registry-db/image-layer-fetch"),
        ("kernel", "counters", "local"), ("kubernetes", "nodes", "cluster"))]
    names = ["latency_A", "latency_AAAA", "timeouts_AAAA", "latency", "status_5xx", "seq_scans_on_large_tables",
             "conntrack_insert_failed", "TcpExt.TCPSynRetrans", *(f"kernel_version[{n}]" for n in NODES)]
    return headings, names


@pytest.mark.parametrize("width", WIDTHS)
def test_every_line_fits_and_no_id_is_split(triage, sides, width):
    out = triage("compare", *sides, "--all", width=width)
    assert out.code == 3, out.stderr
    lines = out.stdout.splitlines()
    assert max(len(line) for line in lines) <= width
    headings, names = _ids(out.stdout)
    for heading in headings:
        assert any(line.strip() == heading for line in lines), (heading, width)
    for name in names:
        # Whole on one line, as a word of its own (never "kernel_version[ip-10-0-" / "131-5...").
        assert any(name in line.split() for line in lines), (name, width)
    # The regressed DNS rows sit under their target's heading, most severe group first.
    first_group = next(i for i, line in enumerate(lines) if line.startswith("dns.resolve · "))
    assert lines[first_group + 1].split()[0].startswith("latency_")


def test_narrow_terminals_drop_q_then_the_interval(triage, sides):
    headers = {}
    for width in WIDTHS:
        text = triage("compare", *sides, "--all", width=width).stdout
        headers[width] = next(line for line in text.splitlines() if line.split()[:1] == ["metric"]).split()
    assert headers[160][-2:] == ["q", "verdict"] and "CI" in headers[160]
    assert "q" not in headers[80] and "CI" not in headers[80]
    for header in headers.values():
        assert "q" not in header or "CI" in header  # q goes first, then the interval
        assert header[-2:] in (["p", "verdict"], ["q", "verdict"])  # adj. p and the verdict always stay


def test_columns_sets_the_width(triage, sides):
    assert environment_from({"COLUMNS": "100"}, None, None, stdout_isatty=False, stderr_isatty=False).width == 100
    assert environment_from({"COLUMNS": "wide"}, None, None, stdout_isatty=False, stderr_isatty=False,
                            width=90).width == 90
    out = triage("compare", *sides, "--all", env={"COLUMNS": "100"})
    assert max(len(line) for line in out.stdout.splitlines()) <= 100
    assert max(len(line) for line in out.stdout.splitlines()) > 90  # it used the room it was given
