"""A plain Markdown view of a Comparison: verdict, layers, suspects and the metrics table.

Also home of ``metric_cells``: the plain-text cells of one metric row, shared with the
terminal renderer so both show the same numbers the same way. Untrusted text (target
names, fact values, probe errors) is escaped.
"""

from __future__ import annotations

from dataclasses import dataclass

from triage.compare import (CI_LABEL, Comparison, MetricComparison, display_unit, format_number, format_p,
                            format_range, format_rate, format_relative, format_signed, short_value)

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
        return self.verdict in ("regressed", "improved", "unchanged", "changed")


def _value(m: MetricComparison, value: object) -> str:
    if m.kind == "proportion":
        return format_rate(value)
    if m.kind == "fact":
        text = short_value(value)
        return text if len(text) <= 40 else text[:37] + "..."
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
    return MetricCells(name, lead.name, base, cand, change, ci, p_adj, format_p(lead.q), m.verdict, m.reason, *sizes)


def escape(text: str) -> str:
    """Markdown-inert text for a table cell or a line."""
    out = text.replace("\\", "\\\\").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for ch in "`*_[]|":
        out = out.replace(ch, "\\" + ch)
    return out.replace("\n", " ")


def _side(info: object) -> str:
    hosts = ", ".join(info.hosts) or "?"
    when = info.taken_at[0] if len(info.taken_at) == 1 else f"{len(info.taken_at)} runs"
    return f"{info.title} ({hosts}, {when})"


def render(comparison: Comparison, *, show_all: bool = False) -> str:
    c = comparison
    lines = [f"**Verdict: {c.verdict}** — {escape(c.reason)}", "",
             f"Baseline {escape(_side(c.baseline))} → candidate {escape(_side(c.candidate))}", "",
             "| layer | status | notes |", "|---|---|---|"]
    for layer, status in c.layers.items():
        lines.append(f"| {escape(layer)} | {status} | {escape(c.layer_notes.get(layer, ''))} |")
    lines.append("")
    if c.suspects:
        lines.append("Suspects:")
        lines.append("")
        for s in c.suspects:
            role = "root suspect" if s.role == "root" else "downstream"
            lines.append(f"- **{escape(s.layer)}** ({role}): {escape(s.because)}")
            for e in s.evidence:
                lines.append(f"  - {e.kind}: {escape(e.text)}")
        lines.append("")
    rows = [m for m in c.sorted_metrics() if show_all or m.verdict not in HIDDEN_BY_DEFAULT]
    header = ("metric", "component", "baseline", "candidate", "change", CI_LABEL, "adj. p", "q", "verdict")
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for m in rows:
        x = metric_cells(m)
        verdict = x.verdict if x.judged else f"{x.verdict}: {x.reason}"
        cells = (x.metric, x.component, x.baseline + x.sizes, x.candidate + x.candidate_size, x.change, x.ci,
                 x.p_adjusted, x.q, verdict)
        lines.append("| " + " | ".join(escape(v) for v in cells) + " |")
    hidden = len(c.metrics) - len(rows)
    lines.append("")
    if hidden:
        lines.append(f"{hidden} unchanged metric{'s' if hidden != 1 else ''} not shown (--all shows them).")
    for side_name, info in (("baseline", c.baseline), ("candidate", c.candidate)):
        for f in info.failures:
            lines.append(f"- probe failed on the {side_name}: {escape(f'{f.layer}.{f.probe} [{f.target}]: {f.error}')}"
                         + (f" ({f.runs} of {f.of_runs} runs)" if f.of_runs > 1 else ""))
    lines.append(f"Holm–Bonferroni over {c.tests} tested metrics at α = {c.alpha:g} (family-wise); "
                 f"q = Benjamini–Hochberg; intervals are {CI_LABEL}s.")
    return "\n".join(lines) + "\n"
