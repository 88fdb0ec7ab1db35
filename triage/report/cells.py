"""What every comparison renderer shows the same way: the plain-text cells of one metric
row, how a side is described, and the footer lines (hidden rows, probe failures, the
family-wise rule). Plain text: each renderer escapes it for its own medium.
"""

from __future__ import annotations

from dataclasses import dataclass

from triage.formatting import (display_unit, format_number, format_p, format_range, format_rate, format_relative,
                               format_signed, plural, short_value)
from triage.verdict import CI_LEVEL, Comparison, MetricComparison, SideInfo

HIDDEN_BY_DEFAULT = ("unchanged", "ignored")


@dataclass(frozen=True)
class MetricCells:
    metric: str
    component: str
    baseline: str
    candidate: str
    change: str
    ci: str
    p_adjusted: str
    q: str
    verdict: str
    reason: str
    sizes: str = ""  # " (n=200)"-style suffixes, baseline and candidate, for wide views
    candidate_size: str = ""

    @property
    def judged(self) -> bool:
        """A verdict that speaks for itself; others (failed, absent, ...) need their reason."""
        return self.verdict in ("regressed", "acknowledged", "improved", "unchanged", "changed")


def _value(m: MetricComparison, value: object) -> str:
    if m.kind == "proportion":
        return format_rate(value)
    if m.kind == "fact":
        return short_value(value, 40)
    unit = display_unit(m.unit) if isinstance(value, (int, float)) else ""
    return f"{format_number(value)}{unit}"


def metric_cells(m: MetricComparison) -> MetricCells:
    name = m.id
    lead = m.lead_component
    if lead is None:
        # Nothing judged: show whatever each side had.
        def side(s: object) -> str:
            if s is None:
                return "–"
            if m.kind == "samples":
                return f"p50 {format_number(s.p50)}{display_unit(m.unit)} (n={s.n})"
            if m.kind == "proportion":
                return f"{s.events}/{s.trials}"
            return ", ".join(_value(m, v) for v in s.values) or "–"

        return MetricCells(name, "", side(m.baseline), side(m.candidate), "–", "–", "–", "–", m.verdict, m.reason)
    if m.kind == "fact":
        return MetricCells(name, "fact", _value(m, lead.baseline), _value(m, lead.candidate),
                           "changed" if lead.verdict != "unchanged" else "–", "–", "–", "–", m.verdict, m.reason)
    if m.kind == "proportion":
        change = f"{format_signed(lead.change * 100)} pp ({format_relative(lead.relative, lead.change)})"
        ci = f"{format_range(lead.ci_low * 100, lead.ci_high * 100)} pp" if lead.ci_low is not None else "–"
        base = f"{format_rate(lead.baseline)} ({m.baseline.events}/{m.baseline.trials})" if m.baseline else "–"
        cand = f"{format_rate(lead.candidate)} ({m.candidate.events}/{m.candidate.trials})" if m.candidate else "–"
    else:
        unit = display_unit(m.unit)
        change = f"{format_signed(lead.change)}{unit} ({format_relative(lead.relative, lead.change)})"
        ci = f"{format_range(lead.ci_low, lead.ci_high)}{unit}" if lead.ci_low is not None else "–"
        base, cand = _value(m, lead.baseline), _value(m, lead.candidate)
    sizes = ("", "")
    if m.kind == "samples" and m.baseline and m.candidate:
        sizes = (f" (n={m.baseline.n})", f" (n={m.candidate.n})")
    p_adj = format_p(lead.p_adjusted) if lead.p_adjusted is not None else ("no test" if m.kind == "gauge" else "–")
    return MetricCells(name, lead.name, base, cand, change, ci, p_adj, format_p(lead.q), shown_verdict(m), m.reason,
                       *sizes)


def shown_verdict(m: MetricComparison) -> str:
    """A metric's verdict as the views show it: an acknowledged regression says so."""
    return "acknowledged" if m.acknowledged else m.verdict


def shown_metrics(c: Comparison, show_all: bool, *, facts: bool = True) -> list[MetricComparison]:
    """The rows a view lists, most severe first: all with --all, else all but the unchanged."""
    return [m for m in c.sorted_metrics()
            if (facts or m.kind != "fact") and (show_all or m.verdict not in HIDDEN_BY_DEFAULT)]


def side_when(info: SideInfo) -> str:
    """When a side was taken: its one run's time, or how many runs it pools."""
    return info.taken_at[0] if len(info.taken_at) == 1 else f"{len(info.taken_at)} runs pooled"


def side_hosts(info: SideInfo) -> str:
    return ", ".join(info.hosts) or "?"


@dataclass(frozen=True)
class Footer:
    """One line under a metrics view: ``kind`` is hidden, failure, ack, rounds or family; ``lead`` a
    short prefix a renderer may style; ``text`` plain (it holds probe error text: escape it)."""

    kind: str
    lead: str
    text: str


def footers(c: Comparison, shown: int, *, total: int | None = None) -> list[Footer]:
    """The lines under a view that lists ``shown`` of ``total`` (default: all) metrics."""
    out = []
    hidden = (len(c.metrics) if total is None else total) - shown
    if hidden:
        out.append(Footer("hidden", "", f"{plural(hidden, 'unchanged metric')} not shown (--all shows them)."))
    for side_name, info in (("baseline", c.baseline), ("candidate", c.candidate)):
        for f in info.failures:
            runs = f" ({f.runs} of {f.of_runs} runs)" if f.of_runs > 1 else ""
            out.append(Footer("failure", f"probe failed on the {side_name}:",
                              f"{f.layer}.{f.probe} [{f.target}]: {f.error}{runs}"))
    out += ack_footers(c)
    if c.rounds is not None:
        out.append(Footer("rounds", "rounds:", c.rounds.summary(c.alpha)))
    out.append(Footer("family", "", family_rule(c)))
    return out


ACK_LEADS = {"acknowledged": "acknowledged:", "expired": "ack expired:", "exceeded": "larger than acknowledged:"}


def ack_footers(c: Comparison) -> list[Footer]:
    """One line per regression an ack matched: acknowledged (fails nothing), or why it still fails."""
    return [Footer("ack", ACK_LEADS[m.ack.status], f"{m.id}: {m.ack.describe()}"
                   + (f" — {m.ack.note}" if m.ack.note else "") + f" [{m.ack.ack.source}]")
            for m in c.sorted_metrics() if m.ack is not None]


def family_rule(c: Comparison) -> str:
    primary = (f", half of α shared by the {plural(c.primary_tests, 'primary failure rate')}"
               if 0 < c.primary_tests < c.tests else "")
    return (f"Holm–Bonferroni over {plural(c.tests, 'tested metric')} at α = {c.alpha:g} (family-wise{primary}); "
            f"q = Benjamini–Hochberg; intervals are {CI_LEVEL:.0%} CIs; a regression must also pass its "
            "practical floors.")
