"""Where the commands meet the renderers (triage.report): which formats each command offers
(checked before any work), the render options this environment asks for, and one way to
write the text out.

Like triage.engine, imported by a command only when it runs, to keep `triage --help` fast.
"""

from __future__ import annotations

from typing import Any, Sequence

from triage.errors import BadInput
from triage.fileio import atomic_write_text
from triage.report import RenderOptions, formats, render

from .env import Environment

# Which of a result's formats (triage.report.RENDERERS) each command offers.
COMPARE_FORMATS = ("table", "json", "markdown")  # compare, ab: markdown is the brief table; no junit
REPORT_FORMATS = ("markdown", "json", "junit")  # report: markdown is the full report; no table
VIEW_FORMATS = formats("snapshot")  # probe, baseline show, repro dns and db, calibrate: table, json
CHANGES_FORMATS = formats("changes")
HISTORY_FORMATS = formats("history")


def check_format(fmt: str, offered: Sequence[str]) -> None:
    if fmt not in offered:
        expected = " or ".join(offered) if len(offered) == 2 else "one of " + ", ".join(offered)
        raise BadInput(f"--format: expected {expected}, got {fmt!r}")


def text(env: Environment, result: Any, fmt: str, *, show_all: bool = False, charts: bool = True,
         full_report: bool = False, charts_link: str | None = None) -> str:
    """``result`` (a Comparison, Snapshot, ReproReport or ChangeSet) in ``fmt``, coloured and sized for ``env``."""
    return render(result, fmt, RenderOptions(color=env.color, width=env.width, show_all=show_all, charts=charts,
                                             full_report=full_report, charts_link=charts_link))


def write(env: Environment, text: str, out: str | None) -> None:
    """``text`` to the file ``out`` (atomically), else to stdout."""
    if out:
        atomic_write_text(out, text)
    else:
        env.out(text)
