"""Time windows for the Prometheus source, and cutting them around an upgrade.

Forms of ``--window`` (the first three are the README's; every time carries a zone):

    2026-11-20T10:00Z/2h        START/DURATION
    2026-11-20T10:00Z/2026-11-20T12:00Z   START/END
    1h                          DURATION, ending now
    upgrade:4.3.19[/2h]         the first 2h of 4.3.19, from the moment its rollout completed
    before-upgrade:4.3.19[/2h]  the last 2h before the rollout to 4.3.19 started

The upgrade forms read OpenShift's ClusterVersion ``status.history`` (newest first; each
entry has ``version``, ``state``, ``startedTime``, ``completionTime``), so the rollout itself
(nodes draining and rebooting) is never inside a window, and a window never runs into the
next upgrade or the previous one's rollout. Every window says why it was chosen.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from triage.errors import BadInput

DEFAULT_UPGRADE_SPAN = dt.timedelta(hours=2)  # the "two hours before, two hours after"
MAX_WINDOW = dt.timedelta(days=31)  # Prometheus' default retention is 15 days; a month bounds a typo
_DURATION = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_UNITS = (7 * 86400, 86400, 3600, 60, 1)

WINDOW_FORMS = ("START/DURATION (2026-11-20T10:00Z/2h), START/END, DURATION ending now (1h), "
                "upgrade:VERSION[/DURATION] or before-upgrade:VERSION[/DURATION]")


@dataclass(frozen=True)
class Window:
    start: dt.datetime  # UTC, aware
    end: dt.datetime
    why: str  # how it was chosen, in words
    version: str | None = None  # the platform version it covers, when the history says

    @property
    def duration(self) -> dt.timedelta:
        return self.end - self.start

    def describe(self) -> str:
        return f"{iso(self.start)} → {iso(self.end)} ({format_duration(self.duration)}; {self.why})"


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_duration(text: str, option: str) -> dt.timedelta:
    """``90s``, ``5m``, ``2h``, ``1h30m``, ``1d``, ``1w``: BadInput naming ``option`` otherwise."""
    m = _DURATION.match(text.strip())
    if not text.strip() or not m or not any(m.groups()):
        raise BadInput(f"{option}: expected a duration like 5m, 2h or 1h30m, got {text!r}")
    seconds = sum(int(g) * unit for g, unit in zip(m.groups(), _UNITS) if g)
    if seconds <= 0:
        raise BadInput(f"{option}: expected a duration above zero, got {text!r}")
    return dt.timedelta(seconds=seconds)


def format_duration(span: dt.timedelta) -> str:
    """The shortest text ``parse_duration`` reads back: 7200 s -> '2h', 5400 s -> '1h30m'."""
    seconds = int(span.total_seconds())
    if seconds <= 0:
        return "0s"
    out = ""
    for unit, suffix in zip(_UNITS[1:], "dhms"):
        if seconds >= unit:
            out += f"{seconds // unit}{suffix}"
            seconds %= unit
    return out


def parse_time(text: str, option: str) -> dt.datetime:
    """An ISO 8601 instant with a zone: ``2026-11-20T10:00Z``, ``...T10:00:00+02:00``."""
    raw = text.strip()
    try:
        moment = dt.datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise BadInput(f"{option}: expected an ISO 8601 time with a zone like 2026-11-20T10:00Z, got {text!r}")
    return moment.astimezone(dt.timezone.utc)


def _checked(window: Window, option: str, now: dt.datetime) -> Window:
    if window.start >= now:
        raise BadInput(f"{option}: the window starts in the future ({iso(window.start)})")
    if window.end <= window.start:
        raise BadInput(f"{option}: the window is empty ({iso(window.start)} → {iso(window.end)})")
    if window.duration > MAX_WINDOW:
        raise BadInput(f"{option}: a window of at most {format_duration(MAX_WINDOW)} is read, got "
                       f"{format_duration(window.duration)}")
    return window


History = Callable[[], Sequence[Mapping[str, Any]]]  # ClusterVersion status.history, newest first


def parse_window(spec: str, *, now: dt.datetime, history: History | None = None,
                 option: str = "--window") -> Window:
    """The window ``spec`` names (module docstring); ``history`` is called only for the upgrade forms."""
    text = spec.strip()
    for prefix, after in (("upgrade:", True), ("before-upgrade:", False)):
        if text.startswith(prefix):
            version, _, span = text[len(prefix):].partition("/")
            if not version:
                raise BadInput(f"{option}: expected {prefix}VERSION[/DURATION], e.g. {prefix}4.3.19/2h")
            duration = parse_duration(span, option) if span else DEFAULT_UPGRADE_SPAN
            if history is None:
                raise BadInput(f"{option}: {prefix}VERSION needs the cluster's ClusterVersion history: "
                               "configure the kubernetes layer (kubernetes: in triage.yaml, --kubeconfig or KUBECONFIG)")
            return _checked(upgrade_window(history(), version, duration, after=after, option=option, now=now),
                            option, now)
    first, sep, second = text.partition("/")
    if not sep:
        if first[:1].isdigit() and "T" not in first and "-" not in first:
            duration = parse_duration(first, option)
            return _checked(Window(now - duration, now, f"the last {format_duration(duration)}, ending now"),
                            option, now)
        raise BadInput(f"{option}: expected {WINDOW_FORMS}, got {spec!r}")
    start = parse_time(first, option)
    if "T" in second or "-" in second:
        end = parse_time(second, option)
    else:
        end = start + parse_duration(second, option)
    end = min(end, now)
    return _checked(Window(start, end, "as given" if end < now else "as given, cut at now"), option, now)


def _when(entry: Mapping[str, Any], key: str, version: str, option: str) -> dt.datetime | None:
    raw = entry.get(key)
    if raw in (None, ""):
        return None
    try:
        return parse_time(str(raw), option)
    except BadInput:
        raise BadInput(f"{option}: ClusterVersion history entry {version}: {key} {raw!r} is not a time") from None


def upgrade_window(history: Sequence[Mapping[str, Any]], version: str, span: dt.timedelta, *, after: bool,
                   option: str, now: dt.datetime) -> Window:
    """The first ``span`` of ``version`` after its rollout completed (``after``), or the last
    ``span`` before the rollout to it started; cut at the neighbouring rollouts and at now."""
    entries = [e for e in history if isinstance(e, Mapping)]
    index = next((i for i, e in enumerate(entries) if e.get("version") == version), None)
    if index is None:
        known = ", ".join(str(e.get("version")) for e in entries) or "(none)"
        raise BadInput(f"{option}: version {version} is not in the ClusterVersion history (it has: {known})")
    entry = entries[index]
    newer = entries[index - 1] if index > 0 else None
    older = entries[index + 1] if index + 1 < len(entries) else None
    started = _when(entry, "startedTime", version, option)
    if after:
        completed = _when(entry, "completionTime", version, option)
        if entry.get("state") != "Completed" or completed is None:
            raise BadInput(f"{option}: the rollout to {version} has not completed "
                           f"(state {entry.get('state') or 'unknown'}): no window of {version} yet")
        end, cut = completed + span, ""
        next_start = _when(newer, "startedTime", str(newer.get("version")), option) if newer else None
        if next_start is not None and next_start < end:
            end, cut = next_start, f", cut where the rollout to {newer.get('version')} started"
        if now < end:
            end, cut = now, ", cut at now"
        return Window(completed, end, f"the first {format_duration(end - completed)} of {version}, from its rollout's "
                                      f"completion{cut}", version)
    if started is None:
        raise BadInput(f"{option}: the ClusterVersion history has no startedTime for {version}")
    previous = str(older.get("version")) if older else None
    start, cut = started - span, ""
    prev_done = _when(older, "completionTime", previous or "", option) if older else None
    if prev_done is not None and prev_done > start:
        start, cut = prev_done, f", cut where the rollout to {previous} completed"
    what = previous or f"the version before {version}"
    return Window(start, started, f"the last {format_duration(started - start)} of {what}, up to the start of "
                                  f"the rollout to {version}{cut}", previous)
