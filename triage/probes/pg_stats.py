"""PostgreSQL's statistics views, read: connections by state, the cumulative statistics
over a window (what happened between two readings), and pg_stat_statements' texts made fit
to record.

pg_stat_database and pg_stat_statements count since their last reset, so one reading
carries the past: after a slow period is fixed, a statement's mean since the reset stays
high for days (0.017 -> 8.2 ms in issue 11, with nothing wrong any more). Read at the start
and at the end of the run, their differences say what happened in the run alone. A reset in
between (stats_reset moved, or a counter went down) is never a negative count: what it
touched is dropped, with a note. Pure functions of the readings; probes/database.py reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from triage.secrets import mask_secrets

STATEMENT_TEXT_LIMIT = 200

# pg_stat_activity.state -> metric suffix. NULL: a session of another role, hidden without
# pg_read_all_stats.
_STATES = {"active": "active", "idle": "idle", "idle in transaction": "idle_in_transaction",
           "idle in transaction (aborted)": "idle_in_transaction_aborted"}


def connection_states(rows: Iterable[tuple[str | None, int]]) -> dict[str, int]:
    """(state, count) rows -> counts for a fixed set of states (+other, hidden, total)."""
    counts = dict.fromkeys([*_STATES.values(), "other", "hidden"], 0)
    for state, count in rows:
        key = "hidden" if state is None else _STATES.get(state, "other")
        counts[key] += int(count)
    counts["total"] = sum(counts.values())
    return counts


def connection_figures(states: Mapping[str, int], max_connections: int) -> list[tuple[str, int]]:
    """One reading in a few figures for a sentence, in reading order (pairs: a JSON object
    would come back with its keys sorted): connections (total), max_connections, then the
    states that hold any: [("connections", 97), ("max_connections", 100), ("active", 95), ...]."""
    figures = [("connections", int(states.get("total", 0))), ("max_connections", int(max_connections))]
    return figures + [(state, int(n)) for state, n in states.items() if state != "total" and n]


# pg_stat_database columns read at both ends of the run.
DATABASE_COUNTERS = ("blks_hit", "blks_read", "xact_commit", "xact_rollback", "temp_files", "temp_bytes",
                     "deadlocks")


@dataclass(frozen=True)
class DatabaseReading:
    """One reading of pg_stat_database for one database."""

    counters: Mapping[str, int]
    stats_reset: Any = None  # a timestamp, or None when never reset


@dataclass(frozen=True)
class StatementsReading:
    """One reading of pg_stat_statements for one database: queryid -> (calls, total ms),
    summed over the roles that ran it; and pg_stat_statements_info where the server has it (14+)."""

    by_query: Mapping[int, tuple[int, float]] = field(default_factory=dict)
    stats_reset: Any = None
    dealloc: int | None = None


@dataclass(frozen=True)
class StatementWindow:
    queryid: int
    calls: int
    total_ms: float

    @property
    def mean_ms(self) -> float:
        return self.total_ms / self.calls


def counter_deltas(before: DatabaseReading, after: DatabaseReading,
                   keys: tuple[str, ...]) -> tuple[dict[str, int], list[str]]:
    """Window deltas of ``keys``, and notes on what was dropped: everything when the
    statistics were reset in between, a counter alone when it went down."""
    if before.stats_reset != after.stats_reset:
        return {}, [f"pg_stat_database was reset during the run (stats_reset {before.stats_reset} -> "
                    f"{after.stats_reset}): {', '.join(keys)} left out"]
    deltas, notes = {}, []
    for key in keys:
        if key not in before.counters or key not in after.counters:
            continue
        change = after.counters[key] - before.counters[key]
        if change < 0:
            notes.append(f"{key} went down during the run (a reset): left out")
        else:
            deltas[key] = change
    return deltas, notes


def statement_deltas(before: StatementsReading,
                     after: StatementsReading) -> tuple[list[StatementWindow], list[str]]:
    """Per statement, its calls and total time in the window, most total time first, and
    notes. A statement first seen at the end ran only in the window; one whose counts went
    down was reset (or evicted and counted again) and is left out."""
    if before.stats_reset != after.stats_reset:
        return [], [f"pg_stat_statements was reset during the run (stats_reset {before.stats_reset} -> "
                    f"{after.stats_reset}): statements left out"]
    windows, went_down = [], 0
    for queryid, (calls, total_ms) in after.by_query.items():
        calls_before, total_before = before.by_query.get(queryid, (0, 0.0))
        calls_in, total_in = calls - calls_before, total_ms - total_before
        if calls_in < 0 or total_in < 0:
            went_down += 1
        elif calls_in > 0:
            windows.append(StatementWindow(queryid, calls_in, total_in))
    windows.sort(key=lambda w: (-w.total_ms, w.queryid))
    notes = []
    if went_down:
        notes.append(f"{went_down} statements' counts went down during the run (reset or evicted): left out")
    if before.dealloc is not None and after.dealloc is not None and after.dealloc > before.dealloc:
        notes.append(f"pg_stat_statements evicted statements {after.dealloc - before.dealloc} times during the "
                     "run (pg_stat_statements.max): a statement evicted and counted again reads low")
    return windows, notes


_LITERAL = re.compile(r"'(?:[^']|'')*'|\$(?P<tag>[A-Za-z_]*)\$.*?\$(?P=tag)\$", re.S)
_PLANNABLE = re.compile(r"^\s*(?:/\*.*?\*/\s*)*(select|insert|update|delete|with|values|table|merge)\b",
                        re.I | re.S)


def statement_text(query_text: str) -> str | None:
    """A statement's text fit to record, or None for utility statements (CREATE ROLE ...
    PASSWORD '...' is kept verbatim by pg_stat_statements). Literals are masked anyway."""
    if not _PLANNABLE.match(query_text):
        return None
    text = " ".join(_LITERAL.sub("'***'", query_text).split())
    text = mask_secrets(text)
    return text if len(text) <= STATEMENT_TEXT_LIMIT else text[:STATEMENT_TEXT_LIMIT - 3] + "..."
