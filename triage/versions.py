"""The order of labels in a history: platform versions sorted as versions, not as text.

Natural sort: a label is read as runs of digits (compared as numbers: 4.3.9 < 4.3.10) and of
letters (compared case-folded), ``.``, ``_`` and ``+`` only separating them. A ``-`` starts a
pre-release, which comes before the release it names (semver's rule): 4.4.0-0.nightly-2020-05-27
< 4.4.0-rc.1 < 4.4.0 < 4.4.1, and numbers before words (``0.nightly`` < ``rc``), so nightlies
of one release sort by their dates. Labels that read the same (4.3.018, 4.3.18) fall back to text.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Iterable, Mapping, Sequence

from .errors import BadInput

_TOKEN = re.compile(r"\d+|[^\W\d_]+|-")

# Ranks of what may come next at a position, lowest first: a pre-release ("-"), the end of the
# label, a number, a word. So "4.4.0-rc.1" < "4.4.0" < "4.4.0.1" < "4.4.0a".
_PRE, _END, _NUMBER, _WORD = range(4)


def version_key(label: str) -> tuple:
    parts: list[tuple] = []
    for token in _TOKEN.findall(label):
        if token == "-":
            parts.append((_PRE, 0, ""))
        elif token.isdigit():
            parts.append((_NUMBER, int(token), ""))
        else:
            parts.append((_WORD, 0, token.casefold()))
    return (*parts, (_END, 0, ""), label)


def by_version(labels: Iterable[str]) -> list[str]:
    return sorted(labels, key=version_key)


def _when(label: str, text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(f"--order time: a run of {label} was taken at {text!r}, not an ISO 8601 time") from None
    # A time without a zone is taken as UTC, as triage writes them.
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def by_time(labels: Iterable[str], taken_at: Mapping[str, Sequence[str]]) -> list[str]:
    """Labels by the time of their earliest run (``taken_at`` per label), then by version."""
    return sorted(labels, key=lambda label: (min(_when(label, t) for t in taken_at[label]), version_key(label)))
