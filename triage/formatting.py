"""Numbers and values as people read them: one way for every renderer and every sentence.

The bottom of the house: imports nothing from triage, so the result model, the renderers
and the reports can all use it.
"""

from __future__ import annotations

import json
import math
from typing import Any, Mapping


def ci_label(level: float) -> str:
    """'95% CI' for an interval at level 0.95."""
    return f"{level:.0%} CI"


def format_number(x: Any) -> str:
    """Three significant digits in plain notation: 4.1, 0.0523, 310, 12,400."""
    if x is None:
        return "–"
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    if x == 0 or not math.isfinite(x):
        return "0" if x == 0 else str(x)
    ax = abs(x)
    if ax >= 1000:
        return f"{x:,.0f}"
    decimals = max(0, 2 - math.floor(math.log10(ax)))
    text = f"{x:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def format_range(low: float | None, high: float | None) -> str:
    """An interval with both ends at the same precision: '1.66–2.00'."""
    if low is None or high is None:
        return "–"
    texts = [format_number(low), format_number(high)]
    decimals = max(len(t.split(".")[1]) if "." in t else 0 for t in texts)
    if max(abs(low), abs(high)) < 1000:
        texts = [f"{v:.{decimals}f}" for v in (low, high)]
    return "–".join(texts)


def format_signed(x: float | None) -> str:
    if x is None:
        return "–"
    text = format_number(x)
    return text if text.startswith("-") or x == 0 else "+" + text


# Past this factor a change reads as one: "+12821%" asks the reader to divide by 100 and add
# one; "129×" does not. Below it a percentage reads better (+45%, +180%).
FACTOR_FROM = 3.0


def format_relative(relative: float | None, change: float | None = None) -> str:
    """A change relative to its baseline: '+4.2%', '−35%', and past 3× either way a factor:
    '129×' (129 times the baseline), '÷20' (a twentieth of it)."""
    if relative is None:
        return "from 0" if change else "±0%"
    pct = relative * 100
    if pct == 0:
        return "±0%"
    factor = 1 + relative
    if factor >= FACTOR_FROM:
        return f"{format_number(factor)}×"
    if 0 < factor <= 1 / FACTOR_FROM:
        return f"÷{format_number(1 / factor)}"
    return f"{pct:+.0f}%" if abs(pct) >= 10 else f"{pct:+.1f}%"


def format_p(p: float | None) -> str:
    if p is None:
        return "–"
    if p == 0:
        return "<1e-300"
    if p < 0.001:
        return f"{p:.1e}"
    return f"{p:.3f}".rstrip("0").rstrip(".") if p < 1 else "1"


def display_unit(unit: str | None) -> str:
    """' ms' after a number; nothing for plain counts ('3', not '3 count')."""
    return f" {unit}" if unit and unit != "count" else ""


def format_rate(rate: Any) -> str:
    if not isinstance(rate, (int, float)):
        return "–"
    return f"{rate * 100:.2f}%" if rate < 0.1 else f"{rate * 100:.1f}%"


def short_value(value: Any, limit: int = 60) -> str:
    """A fact value in one short line (JSON for anything but a string)."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[:limit - 3] + "..."


# C0 and C1 control characters, DEL, and the bidirectional overrides that reorder how a line
# is displayed (U+202A–U+202E, U+2066–U+2069): untrusted text (a package's changelog, an image
# name) must not move a terminal's cursor, recolour it or hide a part of itself.
_UNPRINTABLE = {c: f"\\x{c:02x}" for c in (*range(0x00, 0x09), *range(0x0a, 0x20), *range(0x7f, 0xa0))}
_UNPRINTABLE.update({c: f"\\u{c:04x}" for c in (*range(0x202a, 0x202f), *range(0x2066, 0x206a))})


def printable(text: str) -> str:
    """``text`` with every control character but a tab shown as an escape (``\\x1b``), never acted on."""
    return text.translate(_UNPRINTABLE)


def plural(n: int, word: str, words: str | None = None) -> str:
    """'1 metric', '3 metrics'."""
    return f"{n} {word if n == 1 else (words or word + 's')}"


def format_kinds(kinds: Mapping[str, int]) -> str:
    """Events by kind: 'too many clients' when there is one kind, else 'too many clients 60,
    connect timeout 2', most frequent first."""
    ranked = sorted(((k, n) for k, n in kinds.items() if n), key=lambda kn: (-kn[1], kn[0]))
    if len(ranked) == 1:
        return ranked[0][0]
    return ", ".join(f"{k} {format_number(n)}" for k, n in ranked)


def _figures(figures: Any) -> list[tuple[str, Any]]:
    """A mapping (read in key order: JSON files sort their keys) or [name, value] pairs (the
    order the probe chose)."""
    if isinstance(figures, Mapping):
        return sorted(figures.items())
    if isinstance(figures, (list, tuple)) and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in figures):
        return [(str(k), v) for k, v in figures]
    return []


def format_context(context: Mapping[str, Any]) -> str:
    """Figures a probe attached to a measurement, judged nowhere: 'last reading: connections
    97, max_connections 100, active 95; rows: manifest_blob 200,000'."""
    parts = []
    for label in sorted(context):
        figures = context[label]
        pairs = _figures(figures)
        if pairs:
            parts.append(f"{label}: " + ", ".join(f"{k} {format_number(v)}" for k, v in pairs))
        elif isinstance(figures, (str, int, float)) and not isinstance(figures, bool):
            parts.append(f"{label}: {format_number(figures)}")
    return "; ".join(parts)
