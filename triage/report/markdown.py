"""Comparisons as GitHub-flavoured Markdown, in two modes of one renderer.

- brief (`triage compare --format markdown`): verdict, layers, suspects and the metrics
  table: fit for a pull-request comment.
- full report (`triage report`, RenderOptions.full_report): also the dependency reasoning,
  a Mermaid chart per root-suspect probe target (triage.report.charts), changed facts per layer, probe
  failures, the environment and the commands to reproduce: fit for an incident doc.

Every piece of text that came from a probe, a config, a snapshot or a saved comparison goes
through the one Markdown step, ``escape`` (triage.report.inert.markdown); Mermaid strings
(triage.report.charts) through inert.mermaid, the reproduce commands through inert.code_block.
"""

from __future__ import annotations

from triage import __version__
from triage.attribution import target_spreads
from triage.changes import ENTRIES_SHOWN, ChangeSet, is_change_fact
from triage.formatting import ci_label, format_number, short_value
from triage.layers import DEPENDENCIES
from triage.rounds import UNDECIDED_SHOWN
from triage.verdict import CI_LEVEL, Comparison, MetricComparison, SideInfo

from . import RenderOptions, charts, load_view
from .cells import footers, metric_cells, shown_metrics, side_hosts, side_when
from .inert import code_block
from .inert import markdown as escape  # the one Markdown step for outside text

CI_LABEL = ci_label(CI_LEVEL)

_STATUS_MARK = {"regressed": "🔴", "failed": "⚠️", "inconclusive": "❔", "improved": "🟢", "ok": "✅", "absent": "–"}


# ---------------------------------------------------------------- brief


def _brief(c: Comparison, options: RenderOptions) -> str:
    lines = [f"**Verdict: {escape(c.verdict)}** — {escape(c.reason)}", "",
             f"Baseline {escape(_side(c.baseline))} → candidate {escape(_side(c.candidate))}", "",
             "| layer | status | notes |", "|---|---|---|"]
    for layer, status in c.layers.items():
        lines.append(f"| {escape(layer)} | {escape(status)} | {escape(c.layer_notes.get(layer, ''))} |")
    lines.append("")
    if c.suspects:
        lines.append("Suspects:")
        lines.append("")
        for s in c.suspects:
            role = ("root suspect" if s.role == "root" else "downstream") + \
                (", acknowledged" if c.acknowledged_layer(s.layer) else "")
            lines.append(f"- **{escape(s.layer)}** ({role}): {escape(s.because)}")
            for e in s.evidence:
                lines.append(f"  - {escape(e.kind)}: {escape(e.text)}")
        lines.append("")
    rows = shown_metrics(c, options.show_all)
    header = ("metric", "component", "baseline", "candidate", "change", CI_LABEL, "adj. p", "q", "verdict")
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for m in rows:
        x = metric_cells(m)
        verdict = x.verdict if x.judged else f"{x.verdict}: {x.reason}"
        cells = (x.metric, x.component, x.baseline + x.sizes, x.candidate + x.candidate_size, x.change, x.ci,
                 x.p_adjusted, x.q, verdict)
        lines.append("| " + " | ".join(escape(v) for v in cells) + " |")
    lines.append("")
    for f in footers(c, len(rows)):
        lines.append(f"- {f.lead} {escape(f.text)}" if f.kind in ("failure", "ack", "rounds") else escape(f.text))
    return "\n".join(lines) + "\n"


def _side(info: SideInfo) -> str:
    return f"{info.title} ({side_hosts(info)}, {side_when(info)})"


def render(comparison: Comparison, options: RenderOptions = RenderOptions()) -> str:
    """The brief table, or with ``options.full_report`` the whole triage report."""
    return _report(comparison, options) if options.full_report else _brief(comparison, options)


# ---------------------------------------------------------------- full report


def _layers(c: Comparison) -> list[str]:
    lines = ["## Layers", "", "| layer | status | depends on | notes |", "|---|---|---|---|"]
    for layer, status in c.layers.items():
        deps = ", ".join(DEPENDENCIES.get(layer, ())) or "–"
        lines.append(f"| {escape(layer)} | {_STATUS_MARK.get(status, '')} {escape(status)} | {deps} | "
                     f"{escape(c.layer_notes.get(layer, ''))} |")
    return lines + [""]


def _suspects(c: Comparison) -> list[str]:
    if not c.suspects:
        return []
    lines = ["## Suspects", ""]
    for s in c.suspects:
        role = ("root suspect" if s.role == "root" else "downstream") + \
            (" (acknowledged)" if c.acknowledged_layer(s.layer) else "")
        lines += [f"### {escape(s.layer)}: {role}", "", escape(s.because), ""]
        deps = DEPENDENCIES.get(s.layer, ())
        if deps:
            states = ", ".join(f"{d} {c.layers.get(d, 'absent')}" for d in deps)
            lines += [f"Depends on: {escape(states)}.", ""]
        for e in s.evidence:
            lines.append(f"- **{escape(e.kind)}** {escape(e.text)}")
        lines.append("")
    return lines


MAX_WHERE_ROWS = 20


def _where(c: Comparison) -> list[str]:
    """Per regressed layer with several targets: which targets regressed, their metrics and
    the largest change: "kernel regressed on 2 of 40 nodes", and which two."""
    lines: list[str] = []
    for layer, status in c.layers.items():
        if status != "regressed":
            continue
        for spread in target_spreads(layer, c.metrics, c.target_nouns):
            if spread.judged < 2:
                continue
            if not lines:
                lines = ["## Where", ""]
            lines += [f"### {escape(layer)}: {len(spread.regressed)} of {spread.judged} {escape(spread.noun)} regressed",
                      "", "| target | regressed metrics | largest change |", "|---|---|---|"]
            for target in spread.regressed[:MAX_WHERE_ROWS]:
                rows = sorted((m for m in c.metrics if m.layer == layer and m.target == target
                               and m.verdict == "regressed"), key=MetricComparison.severity)
                x = metric_cells(rows[0])
                names = ", ".join(dict.fromkeys(f"{m.probe}.{m.metric}" for m in rows))
                lines.append(f"| {escape(target)} | {escape(names)} | {escape(f'{rows[0].probe}.{rows[0].metric} {x.change}')} |")
            if len(spread.regressed) > MAX_WHERE_ROWS:
                lines.append(f"| … and {len(spread.regressed) - MAX_WHERE_ROWS} more | | |")
            lines.append("")
    return lines


def _charts(c: Comparison, options: RenderOptions) -> list[str]:
    """One chart per root-suspect probe target (triage.report.charts), its caption, and with
    ``--charts-dir`` links to the same chart as SVG and PNG."""
    drawn = charts.charts(c)
    if not drawn:
        return []
    lines = ["## Root-suspect latency", ""]
    for chart in drawn:
        lines += [*charts.mermaid(chart), "", escape(chart.caption())]
        if options.charts_link is not None:
            base = f"{options.charts_link.rstrip('/')}/{chart.stem}" if options.charts_link else chart.stem
            lines += ["", f"![{escape(chart.title)}](<{base}.svg>) ([PNG](<{base}.png>))"]
        lines.append("")
    return lines


def _quantiles(m: MetricComparison, side) -> str:
    if side is None:
        return "absent"
    if m.kind == "samples" and side.p50 is not None:
        return " / ".join(format_number(getattr(side, q)) for q in ("p50", "p95", "p99")) + f" (n={side.n})"
    return ""


def _metrics(c: Comparison, show_all: bool) -> list[str]:
    rows = shown_metrics(c, show_all, facts=False)
    header = ("metric", "unit", f"{c.baseline.title} p50 / p95 / p99", f"{c.candidate.title} p50 / p95 / p99",
              "judged", "change", CI_LABEL, "adj. p", "verdict")
    lines = ["## Metrics", "", "| " + " | ".join(escape(h) for h in header) + " |", "|" + "---|" * len(header)]
    for m in rows:
        x = metric_cells(m)
        base = _quantiles(m, m.baseline) or x.baseline
        cand = _quantiles(m, m.candidate) or x.candidate
        verdict = x.verdict if x.judged else f"{x.verdict}: {x.reason}"
        cells = (x.metric, m.unit or "", base, cand, x.component, x.change, x.ci, x.p_adjusted, verdict)
        lines.append("| " + " | ".join(escape(str(v)) for v in cells) + " |")
    lines.append("")
    shown = [f for f in footers(c, len(rows), total=sum(1 for m in c.metrics if m.kind != "fact"))
             if f.kind not in ("failure", "ack", "rounds")]  # these have their own sections
    return lines + [escape(f.text) for f in shown] + [""]


def _acks(c: Comparison) -> list[str]:
    """Regressions an ack matched: the acknowledged ones (they fail nothing) and those it no
    longer covers (expired, or larger than it accepted), with the ack's reason and ticket."""
    rows = [m for m in c.sorted_metrics() if m.ack is not None]
    if not rows:
        return []
    lines = ["## Acknowledged regressions", "", f"Acks: {escape(c.acks or '')}.", "",
             "| metric | change | status | reason | ticket | expires | ack |", "|---|---|---|---|---|---|---|"]
    for m in rows:
        a = m.ack
        status = a.status + (f": {a.note}" if a.note else "")
        cells = (m.id, metric_cells(m).change, status, a.ack.reason, a.ack.ticket or "–", a.ack.expires or "–",
                 a.ack.source)
        lines.append("| " + " | ".join(escape(v) for v in cells) + " |")
    return lines + [""]


def _rounds(c: Comparison) -> list[str]:
    """gate --until-decided: each round's share of α, what it probed again, what was left."""
    r = c.rounds
    if r is None:
        return []
    lines = ["## Rounds", "", escape(r.summary(c.alpha)) + ".", ""]
    if len(r.undecided) > UNDECIDED_SHOWN:
        lines += ["Still undecided: " + escape(", ".join(r.undecided)) + ".", ""]
    lines += ["| round | α spent | probes run | samples | decided | undecided |", "|---|---|---|---|---|---|"]
    for look in r.looks:
        probes = ", ".join(look.probes[:MAX_WHERE_ROWS]) + (f" … and {len(look.probes) - MAX_WHERE_ROWS} more"
                                                            if len(look.probes) > MAX_WHERE_ROWS else "")
        lines.append(f"| {look.index} | {c.alpha * look.share:.3g} | {escape(probes)} | {look.samples:,} | "
                     f"{look.decided} | {look.undecided} |")
    return lines + [""]


def _facts(c: Comparison) -> list[str]:
    changed = [m for m in c.sorted_metrics() if m.kind == "fact" and m.verdict in ("changed", "regressed")
               and not is_change_fact(m.layer, m.probe)]  # those are in "What changed"
    if not changed:
        return []
    lines = ["## Changed facts", ""]
    for layer in c.layers:
        mine = [m for m in changed if m.layer == layer]
        if not mine:
            continue
        lines += [f"### {escape(layer)}", "", f"| fact | {escape(c.baseline.title)} | {escape(c.candidate.title)} |",
                  "|---|---|---|"]
        for m in mine:
            b = short_value(m.baseline.value) if m.baseline else "absent"
            k = short_value(m.candidate.value) if m.candidate else "absent"
            lines.append(f"| {escape(m.id)} | {escape(b)} | {escape(k)} |")
        lines.append("")
    return lines


def _failures(c: Comparison) -> list[str]:
    rows = [(name, f) for name, info in (("baseline", c.baseline), ("candidate", c.candidate)) for f in info.failures]
    if not rows:
        return []
    lines = ["## Probe failures", "", "| side | probe | target | runs | error |", "|---|---|---|---|---|"]
    for name, f in rows:
        lines.append(f"| {name} | {escape(f.layer + '.' + f.probe)} | {escape(f.target)} | {f.runs}/{f.of_runs} | "
                     f"{escape(f.error)} |")
    return lines + [""]


def _environment(c: Comparison) -> list[str]:
    lines = ["## Environment", "", f"| | {escape(c.baseline.title)} | {escape(c.candidate.title)} |", "|---|---|---|"]
    for field, getter in (("source", lambda i: f"{i.source} {i.spec}"), ("hosts", lambda i: ", ".join(i.hosts)),
                          ("runs", lambda i: str(i.runs)), ("taken at", lambda i: ", ".join(i.taken_at))):
        lines.append(f"| {field} | {escape(getter(c.baseline))} | {escape(getter(c.candidate))} |")
    lines += ["", f"Report by triage {__version__}" + (f"; budget {escape(c.budget)}" if c.budget else "") + ".", ""]
    return lines


def _reproduce(commands: tuple[str, ...]) -> list[str]:
    if not commands:
        return []
    return ["## Reproduce", "", *code_block(commands, "bash"), ""]


def _report(c: Comparison, options: RenderOptions) -> str:
    title = f"triage: {c.baseline.title} → {c.candidate.title}"
    roots = c.root_layers
    downstream = [s.layer for s in c.suspects if s.role == "downstream"]
    summary = f"**Verdict: {escape(c.verdict)}**"
    if roots:
        summary += f": root suspect {', '.join(map(escape, roots))}"
        if downstream:
            summary += f"; downstream {', '.join(map(escape, downstream))}"
    # With suspects named the summary says it all; otherwise the reason says why (ok, inconclusive).
    lines = [f"# {escape(title)}", "", f"{summary}." if roots else f"{summary}: {escape(c.reason)}", ""]
    lines += _layers(c)
    lines += _suspects(c)
    lines += _where(c)
    lines += _what_changed(c)
    if options.charts:
        lines += _charts(c, options)
    lines += load_view.render(c, escape, options.charts)
    lines += _metrics(c, options.show_all)
    lines += _rounds(c)
    lines += _acks(c)
    lines += _facts(c)
    lines += _failures(c)
    lines += _environment(c)
    lines += _reproduce(c.commands)
    return "\n".join(lines).rstrip() + "\n"


# ---------------------------------------------------------------- what changed (triage.changes)

MAX_CHANGES_SHOWN = 20  # per layer; `triage changes --format json` lists them all


def changes_lines(cs: ChangeSet, order: list[str], roles: dict[str, str] | None = None) -> list[str]:
    """The "What changed" section: ``order``'s layers first, then the rest bottom of the stack
    first, OTHER last; each change, its new changelog entries, and the notes."""
    roles = roles or {}
    layers = [layer for layer in order if cs.in_layer(layer)] + [layer for layer in cs.layers() if layer not in order]
    lines = ["## What changed", ""]
    if not layers:
        lines += [escape(cs.nothing()), ""]
    for layer in layers:
        mine = cs.in_layer(layer)
        role = f" ({roles[layer]})" if layer in roles else ""
        lines += [f"### {escape(layer)}{role}", ""]
        for change in mine[:MAX_CHANGES_SHOWN]:
            lines.append(f"- {escape(change.summary())}")
            if change.kind == "image":
                lines.append(f"  - {escape(change.old or 'absent')} → {escape(change.new or 'absent')}")
            for entry in change.entries[:ENTRIES_SHOWN]:
                lines.append(f"  - {escape(entry.version) + ': ' if entry.version else ''}{escape(entry.text)}")
            if len(change.entries) > ENTRIES_SHOWN:
                lines.append(f"  - … and {len(change.entries) - ENTRIES_SHOWN} more")
        if len(mine) > MAX_CHANGES_SHOWN:
            lines.append(f"- … and {len(mine) - MAX_CHANGES_SHOWN} more in {escape(layer)}")
        lines.append("")
    lines += [f"> {escape(note)}" for note in cs.notes]
    return lines + ([""] if cs.notes else [])


def _what_changed(c: Comparison) -> list[str]:
    """Root suspects' layers first, then downstream ones: where the hunt starts."""
    if not c.changes.changes and not c.changes.notes:
        return []
    roles = {s.layer: "root suspect" if s.role == "root" else "downstream" for s in c.suspects}
    order = c.root_layers + [s.layer for s in c.suspects if s.role != "root"]
    return changes_lines(c.changes, order, roles)


def render_changes(cs: ChangeSet, options: RenderOptions = RenderOptions()) -> str:
    """`triage changes --format markdown`: the section alone, under a title."""
    title = f"# triage changes: {escape(cs.baseline)} → {escape(cs.candidate)}"
    return "\n".join([title, ""] + changes_lines(cs, [])).rstrip() + "\n"
