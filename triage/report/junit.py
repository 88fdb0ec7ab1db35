"""JUnit XML of a comparison: one testcase per metric, a failure per regression, so CI
systems (GitHub, GitLab, Jenkins) list regressions natively.

Every attribute and text is outside text (target names, error text, units): each goes
through triage.report.inert.xml, once, as the finished tree is written out, so the file is well-formed XML
whatever a probe saw (issue 16: control characters once made 148 files unparseable)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from triage.formatting import ci_label
from triage.verdict import CI_LEVEL, Comparison

from . import RenderOptions
from .cells import metric_cells
from .inert import xml

# Verdicts that fail the test case; the ones that merely could not be judged are skipped.
FAILING = ("regressed",)
ERRORING = ("failed",)
SKIPPED = ("inconclusive", "absent")


def render(comparison: Comparison, options: RenderOptions = RenderOptions()) -> str:
    c = comparison
    suite = ET.Element("testsuite", name=f"triage {c.baseline.title} -> {c.candidate.title}")
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    props = ET.SubElement(suite, "properties")
    for name, value in (("verdict", c.verdict), ("alpha", f"{c.alpha:g}"),
                        ("root_suspects", ",".join(c.root_layers))):
        ET.SubElement(props, "property", name=name, value=value)
    for m in c.sorted_metrics():
        counts["tests"] += 1
        case = ET.SubElement(suite, "testcase", classname=f"{m.layer}.{m.probe}", name=f"{m.target}.{m.metric}")
        x = metric_cells(m)
        detail = f"{m.id}: {x.baseline} -> {x.candidate}"
        if m.kind != "fact":
            detail += f"; change {x.change} ({ci_label(CI_LEVEL)} {x.ci}); adj. p {x.p_adjusted}"
        if m.acknowledged:
            # A known, filed regression: skipped like an expected failure, with the ack's reason.
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", message=f"acknowledged regression: {m.describe()}; {m.ack.describe()}")
        elif m.verdict in FAILING:
            counts["failures"] += 1
            lapsed = f" ({m.ack.note})" if m.ack is not None else ""
            failure = ET.SubElement(case, "failure", message=f"{m.layer} regressed: {m.describe()}{lapsed}",
                                    type="regression")
            failure.text = detail
        elif m.verdict in ERRORING:
            counts["errors"] += 1
            ET.SubElement(case, "error", message=m.reason or "probe failed", type="probe-failure")
        elif m.verdict in SKIPPED:
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", message=f"{m.verdict}: {m.reason}")
        else:
            ET.SubElement(case, "system-out").text = detail
    for key, value in counts.items():
        suite.set(key, str(value))
    for element in suite.iter():  # the one XML step, over every attribute and text at once
        element.attrib.update((k, xml(v)) for k, v in element.attrib.items())
        element.text = None if element.text is None else xml(element.text)
    ET.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"

