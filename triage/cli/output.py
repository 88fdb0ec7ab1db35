"""Where the commands meet the renderers: which formats a command offers (checked before any
work), one call per kind of result, and one way to write the text out.

Like triage.engine, imported by a command only when it runs (the renderers' imports cost
`--help` tens of milliseconds).
"""

from __future__ import annotations

from typing import Sequence

from triage.compare import Comparison
from triage.errors import BadInput
from triage.fileio import atomic_write_text
from triage.model import Snapshot
from triage.report import json_out, junit, markdown, markdown_table, repro_view, snapshot_view, terminal
from triage.repro.dns_workload import ReproReport

from .env import Environment

COMPARE_FORMATS = ("table", "json", "markdown")  # compare, ab: markdown is the brief table
REPORT_FORMATS = ("markdown", "json", "junit")  # report: markdown is the full report
VIEW_FORMATS = ("table", "json")  # probe, baseline show, repro dns


def check_format(fmt: str, formats: Sequence[str]) -> None:
    if fmt not in formats:
        expected = " or ".join(formats) if len(formats) == 2 else "one of " + ", ".join(formats)
        raise BadInput(f"--format: expected {expected}, got {fmt!r}")


def comparison_text(env: Environment, c: Comparison, fmt: str, *, commands: tuple[str, ...] = (),
                    show_all: bool = False, charts: bool = True, report: bool = False) -> str:
    """``c`` in ``fmt``; ``report``: `triage report`'s full Markdown, listing ``commands`` to rerun it."""
    if fmt == "json":
        return json_out.render(c)
    if fmt == "junit":
        return junit.render(c)
    if fmt == "markdown" and report:
        return markdown.render(c, markdown.MarkdownOptions(charts=charts, show_all=show_all, commands=commands))
    if fmt == "markdown":
        return markdown_table.render(c, show_all=show_all)
    return terminal.render(c, terminal.TerminalOptions(color=env.color, show_all=show_all, width=env.width))


def snapshot_text(env: Environment, snapshot: Snapshot) -> str:
    return snapshot_view.render_table(snapshot, color=env.color, width=env.width)


def repro_text(env: Environment, report: ReproReport, fmt: str) -> str:
    if fmt == "json":
        return repro_view.render_json(report)
    return repro_view.render_table(report, color=env.color, width=env.width)


def write(env: Environment, text: str, out: str | None) -> None:
    """``text`` to the file ``out`` (atomically), else to stdout."""
    if out:
        atomic_write_text(out, text)
    else:
        env.out(text)
