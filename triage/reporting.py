"""What `triage report` and `triage gate` share: get a Comparison from what the user gave,
say how to reproduce it, and render it in the asked format."""

from __future__ import annotations

import json
import shlex

from .compare import DEFAULT_ALPHA, Comparison, compare_sides
from .errors import BadInput, InputFileError

REPORT_FORMATS = ("markdown", "json", "junit")


def load_comparison(path: str) -> Comparison:
    """A comparison saved with `triage compare --format json`."""
    from .fileio import read_input

    try:
        data = json.loads(read_input(path, "comparison JSON"))
    except json.JSONDecodeError as exc:
        raise InputFileError(path, f"not valid JSON ({exc.msg}, line {exc.lineno}); truncated or not a comparison") from None
    return Comparison.from_dict(data, path)


def comparison_for_report(first: str, second: str | None, *, store: str | None = None,
                          budget_path: str | None = None, alpha: float = DEFAULT_ALPHA) -> Comparison:
    """One argument: a saved comparison JSON. Two: baseline and candidate (files or labels)."""
    if second is None:
        return load_comparison(first)
    return compare_sides(first, second, store=store, budget_path=budget_path, alpha=alpha)


def reproduce_commands(c: Comparison, *, store: str | None = None, budget: str | None = None) -> tuple[str, ...]:
    """The commands that re-run this triage: probe each labelled side again, then compare."""
    q = shlex.quote
    opts = (f" --store {q(store)}" if store else "") + (f" --budget {q(budget)}" if budget else "")
    lines = []
    for info in (c.baseline, c.candidate):
        if info.source == "label":
            lines.append(f"triage probe --label {q(info.spec)} --out {q(info.spec)}.json && "
                         f"triage baseline save {q(info.spec)} {q(info.spec)}.json" + (f" --store {q(store)}" if store else ""))
    lines.append(f"triage compare {q(c.baseline.spec)} {q(c.candidate.spec)}{opts}")
    lines.append(f"triage report {q(c.baseline.spec)} {q(c.candidate.spec)}{opts} -o triage-report.md")
    return tuple(lines)


def render_report(c: Comparison, fmt: str, *, charts: bool = True, show_all: bool = False,
                  commands: tuple[str, ...] = ()) -> str:
    if fmt == "markdown":
        from .report.markdown import MarkdownOptions, render

        return render(c, MarkdownOptions(charts=charts, show_all=show_all, commands=commands))
    if fmt == "junit":
        from .report.junit import render

        return render(c)
    if fmt == "json":
        from .report.json_out import render

        return render(c)
    raise BadInput(f"--format: expected one of {', '.join(REPORT_FORMATS)}, got {fmt!r}")
