"""Outside text made inert, one function per output medium: the one step every renderer applies
where a piece of text that came from outside (probe output and error text, any string of a
snapshot or comparison, a config value) enters its output. Text a renderer writes itself
(headings, column names, its own separators) needs none.

| medium | call | what it does |
|---|---|---|
| terminal, rich | ``cell(text, style)`` | a rich ``Text`` (never parsed as markup: ``[/x]`` is shown) of ``terminal(text)`` |
| terminal, plain | ``terminal(text)`` | control characters as visible escapes (below) |
| Markdown line or table cell | ``markdown(text)`` | escapes visible, then markup inert: ``\\ ` * _ [ ] | ~ #`` escaped, ``& < >`` as entities, a leading list or heading marker escaped |
| Markdown code block | ``code_block(lines, info)`` | escapes visible; a fence longer than any run of backticks inside, so nothing closes it and commands stay exact |
| Mermaid string (label, title, axis) | ``mermaid(text)`` | letters, digits and `` ._-:()/@%+=`` only: no quote, bracket, backtick, ``#``, ``<`` or line break |
| matplotlib text (chart images) | ``plot(text)`` | escapes visible, and ``$`` escaped: a target named ``$$`` is no mathtext (it crashed the figure) |
| XML (JUnit attributes, text) | ``xml(text)`` | escapes visible, so no character XML 1.0 forbids remains; ElementTree escapes ``& < > "`` |
| JSON | ``json_document(data)`` | triage.strictjson.dumps: ASCII (every control character a ``\\u`` escape), no NaN |

Visible escapes: C0 controls (ESC, CR, LF and tab included), DEL, C1 controls (0x80-0x9f:
a terminal takes 0x9b as CSI), the bidirectional overrides and isolates (U+202A-U+202E,
U+2066-U+2069, U+200E/F, U+061C: "Trojan Source" reordering), U+2028/U+2029, lone
surrogates and U+FFFE/U+FFFF become ``\\x1b``, ``\\u202e``, ... So an OSC 52 clipboard
write, an OSC 8 link, SGR or clear-screen in a target is shown, not run; a ``\\r`` can neither
rewrite a terminal line nor split a Markdown table row. Text shown to a person (terminal,
Markdown, XML) is cut at ``MAX_SHOWN`` characters, saying how many more there were: rich
takes ~4 s to lay out a 1 MB cell, and no cell is read past a few lines. JSON is data: never
cut, never altered.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from triage import strictjson

MAX_SHOWN = 2000

_ESCAPED = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
                      "\ud800-\udfff\ufffe\uffff]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, limit: int | None = MAX_SHOWN) -> str:
    """``text`` with every character above shown as its escape, cut at ``limit`` characters."""
    if limit is not None and len(text) > limit:
        text = f"{text[:limit]}… ({len(text) - limit:,} more characters)"
    return _ESCAPED.sub(_escape, text) if _ESCAPED.search(text) else text


# ---------------------------------------------------------------- terminal


def terminal(text: str) -> str:
    """Outside text for a terminal, plain (stderr lines, a rich ``Text``)."""
    return visible(text)


def cell(text: str, style: str = "") -> Any:
    """Outside text for a rich renderable: a ``rich.text.Text``, so rich never reads it as
    markup (``[link=…]`` stays text, ``[/x]`` cannot crash the table). Wherever rich takes a
    string (a table cell, a title, a column name), a string is markup: pass this instead."""
    from rich.text import Text

    return Text(terminal(text), style=style)


# ---------------------------------------------------------------- Markdown

_MD_SPECIAL = str.maketrans({ch: "\\" + ch for ch in "`*_[]|~#"} | {"&": "&amp;", "<": "&lt;", ">": "&gt;"})
# At the start of a line these begin a list item, a thematic break, a setext heading underline or
# a numbered item ("+1.2 ms" and "4.3.18" begin none, and stay as they are).
_MD_LEADING = re.compile(r"^(\s*)(?:([-+=])(?=\s|$|\2)|(\d{1,9})([.)])(?=\s|$))")
_MD_EDGE_SPACES = re.compile(r"^ +| +$")


def _leading(m: re.Match) -> str:
    if m.group(2):
        return f"{m.group(1)}\\{m.group(2)}"
    return f"{m.group(1)}{m.group(3)}\\{m.group(4)}"


def _spaces(m: re.Match) -> str:
    return "&#32;" * len(m.group())


def markdown(text: str) -> str:
    """Outside text for a Markdown line or GFM table cell: shown exactly, never markup or HTML.
    Spaces at either end become entities: leading ones would move a list item's content column
    (a package named " x" un-nested the changelog under it), trailing ones make a line break."""
    inert = _MD_LEADING.sub(_leading, visible(text).replace("\\", "\\\\").translate(_MD_SPECIAL), count=1)
    return _MD_EDGE_SPACES.sub(_spaces, inert)


def code_block(lines: Iterable[str], info: str = "") -> list[str]:
    """A fenced block of outside text: its lines exact (escapes aside), and a fence longer than
    any backtick run inside, so no line can close it early (CommonMark: a closing fence is at
    least as long as the opening one)."""
    body = [visible(line, None) for line in lines]
    longest = max((len(run) for line in body for run in re.findall("`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, *body, fence]


# ---------------------------------------------------------------- Mermaid

_MERMAID_KEEP = set(" ._-:()/@%+=")
MAX_MERMAID = 120


def mermaid(text: str) -> str:
    """Outside text for a Mermaid quoted string (chart title, axis label, axis title). Mermaid
    has no escape for a quote, and labels may be read as Markdown or HTML: keep only what is
    inert everywhere, each other character shown as ``_``."""
    kept = "".join(ch if ch.isalnum() or ch in _MERMAID_KEEP else "_" for ch in text[:MAX_MERMAID])
    return kept + ("…" if len(text) > MAX_MERMAID else "")


# ---------------------------------------------------------------- matplotlib


def plot(text: str) -> str:
    """Outside text for matplotlib (titles, labels, legends of chart images): shown as written,
    ``$`` escaped so no pair of them starts mathtext (``$$`` raised ValueError in savefig)."""
    return visible(text).replace("$", r"\$")


# ---------------------------------------------------------------- XML, JSON


def xml(text: str) -> str:
    """Outside text for an XML attribute or element text (ElementTree escapes ``& < > "``):
    nothing XML 1.0 forbids (C0 controls, U+FFFE/F, surrogates) is left to break the file."""
    return visible(text)


def json_document(data: Any) -> str:
    """A JSON document: sorted, compact, ASCII, no NaN (triage.strictjson.dumps)."""
    return strictjson.dumps(data)
