"""Renderers: each takes a finished result and one options value and returns text; none
measures, judges or touches the network.

One table says what can be rendered how: a result's kind (comparison, snapshot, repro
report, change set) → format → the module and function that render it. Modules are imported only
when used, so rich (terminal tables) stays out of `triage --help`. Commands refuse a
format before they do any work (triage.cli.output offers each command its formats of this table).

The rule for every renderer, this table's and any added to it (issue 16): text that came
from outside (probe output and errors, every string of a snapshot or comparison, config
values) goes through the one step of its output medium in triage.report.inert where it
enters the output: ``inert.cell`` for anything rich draws (a string handed to rich is
markup; a ``[/x]`` crashes it), ``inert.terminal`` for plain terminal text, ``inert.markdown``
for Markdown lines and table cells, ``inert.code_block`` for fenced blocks, ``inert.mermaid``
for chart strings, ``inert.plot`` for matplotlib text, ``inert.xml`` for XML,
``inert.json_document`` for JSON. No renderer
escapes on its own. tests/hardening/test_fuzz_renderers.py holds them to it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Mapping

from triage.errors import BadInput

# kind of result -> format -> "module:function" in this package
RENDERERS: Mapping[str, Mapping[str, str]] = {
    "comparison": {
        "table": "terminal:render",  # rich, for a person at a terminal
        "json": "json_out:render",  # the DESIGN.md contract; re-read by `triage report cmp.json`
        "markdown": "markdown:render",  # the brief table, or the whole report (RenderOptions.full_report)
        "junit": "junit:render",  # one testcase per metric, for CI systems
    },
    "snapshot": {"table": "snapshot_view:render", "json": "snapshot_view:render_json"},
    "repro": {"table": "repro_view:render", "json": "repro_view:render_json"},  # triage repro dns
    "repro_db": {"table": "repro_db_view:render", "json": "repro_db_view:render_json"},  # triage repro db
    # what changed between two sides (triage.changes), `triage changes`
    "changes": {"table": "changes_view:render", "markdown": "markdown:render_changes", "json": "changes_view:render_json"},
    # change points across stored labels (triage.changepoints), `triage history`
    "history": {"table": "history_view:render", "markdown": "history_view:render_markdown",
                "json": "history_view:render_json"},
    # run-to-run noise and the floors it sets (triage.calibration), `triage calibrate`
    "calibration": {"table": "calibration_view:render", "json": "calibration_view:render_json"},
}
_KINDS = {"Comparison": "comparison", "Snapshot": "snapshot", "ReproReport": "repro", "DbReproReport": "repro_db",
          "ChangeSet": "changes", "History": "history", "Calibration": "calibration"}


@dataclass(frozen=True)
class RenderOptions:
    """How to render, decided once by the command: the same value goes to every renderer."""

    color: bool = False  # ANSI styles (a TTY without NO_COLOR); never in files
    width: int | None = None  # terminal columns; None: the terminal's, else 140
    show_all: bool = False  # unchanged metrics too
    charts: bool = True  # markdown report: Mermaid charts of root-suspect latency
    charts_link: str | None = None  # markdown report: where it links the charts' SVG and PNG (--charts-dir)
    full_report: bool = False  # markdown: the whole triage report rather than the brief table


def recording_console(options: RenderOptions, default_width: int = 140) -> Any:
    """The rich Console a terminal renderer draws into and exports: ``options.width`` columns
    (else ``default_width``), styled only when ``options.color`` (the 8 standard colours),
    never highlighting on its own (outside text arrives as ``inert.cell`` Text)."""
    import io

    from rich.console import Console

    return Console(record=True, width=options.width or default_width, no_color=not options.color,
                   force_terminal=options.color, color_system="standard" if options.color else None,
                   file=io.StringIO(), highlight=False)


def formats(kind: str) -> tuple[str, ...]:
    return tuple(RENDERERS[kind])


def check_format(kind: str, fmt: str, option: str = "--format") -> str:
    """``fmt`` if results of ``kind`` can be rendered so; BadInput (exit 2) otherwise."""
    known = RENDERERS[kind]
    if fmt not in known:
        raise BadInput(f"{option}: expected one of {', '.join(known)}, got {fmt!r}")
    return fmt


def render(result: Any, fmt: str, options: RenderOptions = RenderOptions()) -> str:
    """``result`` (a Comparison, Snapshot, ReproReport, DbReproReport or ChangeSet) as text in ``fmt``."""
    kind = _KINDS.get(type(result).__name__)
    if kind is None:
        raise TypeError(f"no renderer for {type(result).__name__}")
    module_name, _, function = RENDERERS[kind][check_format(kind, fmt)].partition(":")
    module = importlib.import_module(f"{__name__}.{module_name}")
    return getattr(module, function)(result, options)
