"""The terminal's metrics view, laid out to fit 80-160 columns without breaking a metric id.

Rows are grouped by layer, probe and target under one heading line (``dns.resolve ·
quay-db.quay.svc@cluster-dns``), so a row names only its metric (``latency_AAAA``): the long
part of an id is printed once, whole, instead of folded mid-word in a narrow column. Groups
come in the order of their most severe row, rows most severe first within a group.

Columns get their natural width when it fits; otherwise the figures wrap at their spaces
("0.0631 ms →" over "3.35 ms"), then the q column goes, then the interval (JSON and Markdown
keep them), and a name too long for its column gets a line of its own above its figures.
A row with a word wider than its column (a long fact value) is written as one wrapped line
of its cells. Nothing is ever cut at a character that is not a space, unless one word is
wider than the whole terminal. Widths are measured in terminal cells (rich.cells).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from triage.formatting import ci_label, printable
from triage.verdict import CI_LEVEL, MetricComparison

from .cells import MetricCells, metric_cells

GAP = 2  # spaces between columns
INDENT = 2  # rows sit under their group's heading
RIGHT = ("values", "change", "ci", "p", "q")  # numbers line up on the right
ARROWS = ("→",)


@dataclass(frozen=True)
class Line:
    """One output line: (text, style) segments; ``style`` is a rich style or ''."""

    segments: tuple[tuple[str, str], ...]

    @property
    def text(self) -> str:
        return "".join(t for t, _ in self.segments)


def _width(text: str) -> int:
    from rich.cells import cell_len

    return cell_len(text)


def _words(text: str) -> list[str]:
    """What a line may break between: words at spaces, but a unit stays with its number
    ("3.35 ms") and an arrow with the word before it ("0.0631 ms →" over "3.35 ms": an arrow
    ends a line, never starts one)."""
    words: list[str] = []
    for word in text.split(" "):
        unit = word.isalpha() and bool(words) and words[-1][-1:].isdigit()
        if (word in ARROWS or unit) and words:
            words[-1] += " " + word
        elif word:
            words.append(word)
    return words


def wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` cells, broken at spaces; a word wider than
    ``width`` alone is folded (the only place a word is cut)."""
    lines: list[str] = []
    current = ""
    for word in _words(text):
        while _width(word) > width > 0:
            if current:
                lines.append(current)
                current = ""
            cut = width
            while _width(word[:cut]) > width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        if not current:
            current = word
        elif _width(current) + 1 + _width(word) <= width:
            current += " " + word
        else:
            lines.append(current)
            current = word
    if current or not lines:
        lines.append(current)
    return lines


def _longest_word(text: str) -> int:
    return max((_width(w) for w in _words(text)), default=0)


@dataclass(frozen=True)
class _Row:
    metric: MetricComparison
    cells: MetricCells

    def column(self, key: str) -> str:
        x = self.cells
        # Names and values from snapshots: shown, never acted on (a control character as its escape).
        return printable({"name": self.metric.metric, "comp": x.component, "values": f"{x.baseline} → {x.candidate}",
                          "change": x.change, "ci": x.ci, "p": x.p_adjusted, "q": x.q, "verdict": x.verdict}[key])


HEADERS = {"name": "metric", "comp": "comp.", "values": "baseline → candidate", "change": "change",
           "ci": ci_label(CI_LEVEL), "p": "adj. p", "q": "q", "verdict": "verdict"}
WRAPPING = ("values", "change", "ci")  # columns that may wrap at their spaces


def _choose_columns(rows: Sequence[_Row], width: int) -> tuple[list[str], dict[str, int]]:
    """The columns shown and their widths: q, then the interval, go when even their narrowest
    layout does not fit."""
    typical = [r for r in rows if r.metric.kind != "fact"] or list(rows)
    for keys in (["name", "comp", "values", "change", "ci", "p", "q", "verdict"],
                 ["name", "comp", "values", "change", "ci", "p", "verdict"],
                 ["name", "comp", "values", "change", "p", "verdict"]):
        natural = {k: max([_width(HEADERS[k])] + [_width(r.column(k)) for r in rows]) for k in keys}
        # The narrowest a wrapping column can be: its longest word among rows that are not facts
        # (a fact's value may be one long word: its row takes the one-line layout instead).
        least = {k: max([_longest_word(HEADERS[k])] + [_longest_word(r.column(k)) for r in typical])
                 if k in WRAPPING else natural[k] for k in keys}
        two_lines = {k: max([least[k]] + [_two_lines(r.column(k)) for r in typical]) for k in keys if k in WRAPPING}
        least["name"] = min(natural["name"], NAME_LEAST)
        available = width - INDENT - GAP * (len(keys) - 1)
        if sum(least.values()) <= available or len(keys) == 6:
            return keys, _allocate(natural, least, two_lines, available)
    raise AssertionError("unreachable")


NAME_LEAST = 12  # a name column narrower than this puts most names on lines of their own


def _two_lines(text: str) -> int:
    """The narrowest width at which ``text`` wraps into at most two lines."""
    low, high = max(1, _longest_word(text)), max(1, _width(text))
    while low < high:
        mid = (low + high) // 2
        if len(wrap(text, mid)) <= 2:
            high = mid
        else:
            low = mid + 1
    return low


def _allocate(natural: dict[str, int], least: dict[str, int], two_lines: dict[str, int],
              available: int) -> dict[str, int]:
    """Natural widths, narrowed until they fit: first the figures to two lines each, then the
    name column (long names move to a line of their own), then the figures to their longest word."""
    widths = dict(natural)
    over = sum(widths.values()) - available

    def narrow(key: str, floor: int) -> None:
        nonlocal over
        give = max(0, min(over, widths[key] - floor))
        widths[key] -= give
        over -= give

    for floors in (two_lines, {"name": least["name"]}, {k: least[k] for k in two_lines}):
        for key in sorted(floors, key=lambda k: -widths[k]):
            if over > 0:
                narrow(key, floors[key])
    return widths


def _styles(row: _Row, style_of: dict[str, str]) -> dict[str, str]:
    verdict = row.cells.verdict
    style = style_of.get(verdict, "")
    return {"verdict": style, "change": style if verdict in ("regressed", "improved") else ""}


def _cell_lines(text: str, width: int, right: bool) -> list[str]:
    return [line.rjust(width) if right else line.ljust(width) for line in wrap(text, width)]


def _fits(row: _Row, keys: list[str], widths: dict[str, int]) -> bool:
    return all(_longest_word(row.column(k)) <= widths[k] for k in keys if k != "name")


def _table_lines(cells: dict[str, str], keys: list[str], widths: dict[str, int], styles: dict[str, str]) -> list[Line]:
    columns = {k: _cell_lines(cells[k], widths[k], k in RIGHT) for k in keys}
    height = max(len(v) for v in columns.values())
    out = []
    for i in range(height):
        segments: list[tuple[str, str]] = [(" " * INDENT, "")]
        for j, k in enumerate(keys):
            part = columns[k][i] if i < len(columns[k]) else " " * widths[k]
            segments.append((part, styles.get(k, "")))
            if j < len(keys) - 1:
                segments.append((" " * GAP, ""))
        while segments and not segments[-1][0].strip():
            segments.pop()
        if segments:
            segments[-1] = (segments[-1][0].rstrip(), segments[-1][1])
        out.append(Line(tuple(segments)))
    return out


def metric_lines(metrics: Sequence[MetricComparison], width: int, style_of: dict[str, str]) -> list[Line]:
    """The metrics view in lines of at most ``width`` cells (``style_of``: verdict -> style)."""
    rows = [_Row(m, metric_cells(m)) for m in metrics]
    if not rows:
        return []
    keys, widths = _choose_columns(rows, width)
    groups: dict[tuple[str, str, str], list[_Row]] = {}
    for r in rows:
        groups.setdefault((r.metric.layer, r.metric.probe, r.metric.target), []).append(r)
    out = _table_lines(HEADERS, keys, widths, {k: "bold" for k in keys})
    out.append(Line((("─" * min(width, INDENT + sum(widths[k] for k in keys) + GAP * (len(keys) - 1)), "dim"),)))
    for (layer, probe, target), members in groups.items():
        out += [Line(((line, "bold"),)) for line in wrap(printable(f"{layer}.{probe} · {target}"), width)]
        for r in members:
            styles = _styles(r, style_of)
            cells = {k: r.column(k) for k in keys}
            if not _fits(r, keys, widths):
                # One line of its cells, wrapped at spaces: a long fact value stays whole.
                text = "  ".join(cells[k] for k in keys if cells[k])
                out += [Line(((" " * INDENT + line, ""),)) for line in wrap(text, width - INDENT)]
                continue
            if _width(cells["name"]) > widths["name"]:
                out += [Line(((" " * INDENT + line, ""),)) for line in wrap(cells["name"], width - INDENT)]
                cells["name"] = ""
            out += _table_lines(cells, keys, widths, styles)
    return out
