"""Change points across a history of labels: binary segmentation, each split judged by
triage's own judge. Pure: snapshots in, a History out; no I/O.

The method (README "History: change points"):

1. Search. A segment of labels is split at every position that leaves at least MIN_LABELS
   labels on each side, and each split is judged as `triage compare` would judge the two
   sides as stored labels: the runs of each side pooled, the groups-aware tests, the floors
   and Holm–Bonferroni over every metric searched. Of the splits where a metric regressed or
   improved, its change point is the one that best separates the labels' own values of the
   component that changed (each label's median, tail quantile or rate, by ranks:
   stats.separation; a clean split, every label on its side, first), then the one with the
   largest change over its interval's half-width (of two clean splits, the one that puts no
   label of the old level with the new: its sides are pure, so its change is the larger).
2. No single label makes a change. The change must survive leaving out any one label of the
   segment (judged again without it, the same verdict, the same way; else the next best split
   is tried), so an outlier label —
   or a first or last label that is an outlier, the known failure of change-point methods at
   the edges — is never a change point; and a change needs MIN_LABELS labels after it, so a
   change in the newest label shows once the next label is stored (`triage gate` judges the
   newest on its own).
3. Recurse into the two sides of each change, for the metrics that changed there.
4. Describe. Each change point is judged once more between its adjacent segments (from the
   metric's previous change point to its next): that comparison gives the size, its interval
   and the before/after summaries. The layers that changed the same way at one label are
   attributed among themselves by the dependency graph (triage.attribution.changed_below).

The family: every split at level d of the recursion is judged at α / 2^d / (n − 1) for n
labels, Holm over the metrics inside each split. With no change anywhere only the first level
runs, so a false change point anywhere in the history, in any metric, has probability at most
α/2 (Bonferroni over the n − 1 positions, Holm over metrics); each deeper level opens segments
that together hold at most n − 1 positions, so the levels below a real change spend at most
the other α/2 between them.
"""

from __future__ import annotations

import fnmatch
import statistics
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Mapping, Sequence

from . import stats
from .acks import NO_ACKS, Acks
from .attribution import changed_below
from .budget import DEFAULT_BUDGET, Budget
from .changepoints import ChangePoint, History
from .judge import judge_metrics
from .judge.drafts import component_quantile
from .judge.acknowledge import acknowledge
from .layers import rank, stack_order
from .model import Snapshot
from .pooling import COMBINED_PREFIX, PooledMetric, pool_side
from .verdict import DEFAULT_ALPHA, MetricComparison, MetricKey

MIN_LABELS = 2  # labels on each side of a change, at least: one label alone may be an outlier
CHANGED = ("regressed", "improved")

Keep = Callable[[str, str, str, str, str | None], bool]  # layer, probe, target, metric, combine -> kept


def _restricted(snapshots: Sequence[Snapshot], keep: Keep) -> list[Snapshot]:
    """The snapshots with only the measurements ``keep`` accepts (results left empty dropped,
    errors kept: a failed probe stays failed)."""
    out = []
    for snap in snapshots:
        results = []
        for r in snap.results:
            if r.status != "ok":
                if keep(r.layer, r.probe, r.target, "", None):
                    results.append(r)
                continue
            kept = tuple(m for m in r.measurements
                         if keep(r.layer, r.probe, r.target, m.metric, m.extra.get("combine")))
            if kept:
                results.append(replace(r, measurements=kept))
        out.append(replace(snap, results=tuple(results)))
    return out


def selection(layers: Sequence[str] = (), globs: Sequence[str] = ()) -> Keep:
    """`--layer`/`--metric`: measurements of those layers whose id (or whose added-up id,
    ``layer.probe.all@KEY.metric``) matches one of the globs."""
    def keep(layer: str, probe: str, target: str, metric: str, combine: str | None) -> bool:
        if layers and layer not in layers:
            return False
        if not globs or not metric:
            return True
        ids = [f"{layer}.{probe}.{target}.{metric}"]
        if isinstance(combine, str):
            ids.append(f"{layer}.{probe}.{COMBINED_PREFIX}{combine}.{metric}")
        return any(fnmatch.fnmatchcase(i, g) for i in ids for g in globs)
    return keep


def _of(keys: frozenset[MetricKey]) -> Keep:
    def keep(layer: str, probe: str, target: str, metric: str, combine: str | None) -> bool:
        if not metric:
            return any(k[:3] == (layer, probe, target) for k in keys)
        return (layer, probe, target, metric) in keys or (
            isinstance(combine, str) and (layer, probe, COMBINED_PREFIX + combine, metric) in keys)
    return keep


def _judge_score(m: MetricComparison) -> float:
    """How clearly the judge separates the sides for ``m``: change over its interval's half-width."""
    c = m.lead_component
    if c is None or c.change is None:
        return 0.0
    if c.ci_low is not None and c.ci_high is not None and c.ci_high > c.ci_low:
        return abs(c.change) / ((c.ci_high - c.ci_low) / 2)
    return abs(c.relative) if c.relative is not None else abs(c.change)


def _label_value(pooled: PooledMetric | None, component: str) -> float | None:
    """One label's own value of a metric's component: its median or tail quantile, rate,
    event count per second, or median reading."""
    if pooled is None:
        return None
    if pooled.kind == "samples":
        if not pooled.values:
            return None
        q = component_quantile(component)
        return stats.quantile(sorted(pooled.values), q)
    if pooled.kind == "proportion":
        return pooled.events / pooled.trials if pooled.trials else None
    if pooled.kind == "gauge" and pooled.values:
        if component == "count":
            total = float(sum(pooled.values))
            return total / pooled.window_s if pooled.window_s else total
        return float(statistics.median(pooled.values))
    return None


@dataclass
class _Search:
    labels: tuple[str, ...]
    runs: Mapping[str, Sequence[Snapshot]]
    budget: Budget
    alpha: float
    comparisons: int = 0

    def __post_init__(self) -> None:
        self._cache: dict[frozenset[MetricKey] | None, dict[str, list[Snapshot]]] = {None: dict(self.runs)}
        # Each label's runs pooled on their own: the labels' own values, for positions and charts.
        self.pooled = {label: pool_side(label, "label", self.runs[label]).metrics for label in self.labels}

    def _runs(self, keys: frozenset[MetricKey] | None) -> dict[str, list[Snapshot]]:
        if keys not in self._cache:
            self._cache[keys] = {label: _restricted(runs, _of(keys)) for label, runs in self.runs.items()}
        return self._cache[keys]

    def judge(self, before: Iterable[int], after: Iterable[int], keys: frozenset[MetricKey] | None,
              alpha: float) -> tuple[MetricComparison, ...]:
        """The metrics' verdicts, labels ``before`` against ``after`` (only the verdicts: a
        search judges hundreds of splits, and no split needs suspects or layers)."""
        runs = self._runs(keys)
        before, after = list(before), list(after)
        self.comparisons += 1
        return judge_metrics([s for i in before for s in runs[self.labels[i]]],
                             [s for i in after for s in runs[self.labels[i]]],
                             baseline_spec=self._span(before), candidate_spec=self._span(after),
                             budget=self.budget, alpha=alpha).metrics

    def _span(self, indices: Sequence[int]) -> str:
        return self.labels[indices[0]] if len(indices) == 1 else f"{self.labels[indices[0]]}…{self.labels[indices[-1]]}"

    def _separation(self, m: MetricComparison, lo: int, k: int, hi: int) -> tuple[float, float]:
        """How cleanly split k separates the labels' own values of ``m``'s deciding component
        (every label on its side: 1), then |z| of that rank statistic."""
        name = m.lead_component.name if m.lead_component is not None else "median"
        values = [_label_value(self.pooled[self.labels[i]].get(m.key), name) for i in range(lo, hi)]
        split = stats.separation([v for v in values[:k - lo] if v is not None],
                                 [v for v in values[k - lo:] if v is not None])
        return split.clean, abs(split.z)

    def candidates(self, lo: int, hi: int, keys: frozenset[MetricKey] | None,
                   alpha: float) -> dict[MetricKey, list[tuple[int, MetricComparison]]]:
        """Per metric, the splits of [lo, hi) where the judge says it changed, best first: by how
        cleanly the split separates the labels' own values (ranks), then by the judge's size
        (two clean splits: the one with one label fewer on the wrong side is the larger change)."""
        found: dict[MetricKey, list[tuple[tuple[float, float, float], int, MetricComparison]]] = {}
        for k in range(lo + MIN_LABELS, hi - MIN_LABELS + 1):
            for m in self.judge(range(lo, k), range(k, hi), keys, alpha):
                if m.verdict in CHANGED and m.kind != "fact":
                    clean, z = self._separation(m, lo, k, hi)
                    found.setdefault(m.key, []).append(((-clean, -_judge_score(m), -z), k, m))
        return {key: [(k, m) for _, k, m in sorted(c, key=lambda x: (x[0], x[1]))] for key, c in sorted(found.items())}

    def robust(self, lo: int, k: int, hi: int, found: Mapping[MetricKey, MetricComparison],
               alpha: float) -> dict[MetricKey, MetricComparison]:
        """Those of ``found`` (changes at k) that every leave-one-label-out judgement confirms."""
        alive = dict(found)
        for j in range(lo, hi):
            if not alive:
                break
            before, after = [i for i in range(lo, k) if i != j], [i for i in range(k, hi) if i != j]
            verdicts = {m.key: m.verdict for m in self.judge(before, after, frozenset(alive), alpha)}
            alive = {key: m for key, m in alive.items() if verdicts.get(key) == m.verdict}
        return alive

    def segment(self, lo: int, hi: int, keys: frozenset[MetricKey] | None,
                alpha: float) -> dict[int, dict[MetricKey, MetricComparison]]:
        """Each metric's change point in [lo, hi): its best split that survives leaving any one
        label out (the next best when one does not), checked in batches of one split."""
        pending = self.candidates(lo, hi, keys, alpha)
        kept: dict[int, dict[MetricKey, MetricComparison]] = {}
        while pending:
            by_split: dict[int, dict[MetricKey, MetricComparison]] = {}
            for key, options in pending.items():
                k, m = options[0]
                by_split.setdefault(k, {})[key] = m
            for k, group in sorted(by_split.items()):
                survivors = self.robust(lo, k, hi, group, alpha)
                kept.setdefault(k, {}).update(survivors)
                for key in group:
                    if key in survivors:
                        del pending[key]
                    else:
                        pending[key] = pending[key][1:]
            pending = {key: options for key, options in pending.items() if options}
        return {k: ms for k, ms in kept.items() if ms}

    def search(self) -> dict[MetricKey, dict[int, MetricComparison]]:
        """Per metric, its change points: position -> the metric as judged where it was found."""
        n = len(self.labels)
        found: dict[MetricKey, dict[int, MetricComparison]] = {}
        todo: list[tuple[int, int, int, frozenset[MetricKey] | None]] = [(0, n, 1, None)]
        while todo:
            lo, hi, level, these = todo.pop()
            if hi - lo < 2 * MIN_LABELS or these == frozenset():
                continue
            for k, kept in sorted(self.segment(lo, hi, these, self.alpha / 2 ** level / (n - 1)).items()):
                for key, m in kept.items():
                    found.setdefault(key, {})[k] = m
                todo += [(lo, k, level + 1, frozenset(kept)), (k, hi, level + 1, frozenset(kept))]
        return found


def _series(labels: Sequence[str], pooled: Mapping[str, Mapping[MetricKey, PooledMetric]],
            keys: Iterable[MetricKey]) -> dict[str, tuple[float | None, ...]]:
    """Per metric, its value at each label (a median, a rate, a gauge's median): what is charted."""
    return {".".join(key): tuple(_label_value(pooled[label].get(key), "median") for label in labels)
            for key in sorted(set(keys))}


def _attributed(points: list[ChangePoint]) -> list[ChangePoint]:
    """Roles among the layers that changed the same way at the same label."""
    out = []
    for cp in points:
        same = {p.layer for p in points if p.label == cp.label and p.direction == cp.direction}
        culprits = changed_below(cp.layer, same)
        out.append(replace(cp, role="downstream" if culprits else "root", downstream_of=culprits))
    return out


def find_change_points(labels: Sequence[str], runs: Mapping[str, Sequence[Snapshot]], *,
                       budget: Budget = DEFAULT_BUDGET, alpha: float = DEFAULT_ALPHA, acks: Acks = NO_ACKS,
                       keep: Keep | None = None, order: str = "version", today=None) -> History:
    """The change points of every metric across ``labels`` (in that order; each label's
    ``runs`` pooled). ``keep``: which measurements to search (selection(); default all).
    ``acks`` cover regressions at the label after the change (on ``today``, UTC by default)."""
    labels = tuple(labels)
    runs = {label: _restricted(runs[label], keep) if keep else list(runs[label]) for label in labels}
    s = _Search(labels, runs, budget, alpha)
    found = s.search()
    points: list[ChangePoint] = []
    # Describe each change between its adjacent segments, batched over metrics with the same ones.
    spans: dict[tuple[int, int, int], list[MetricKey]] = {}
    for key, at in found.items():
        positions = sorted(at)
        bounds = [0, *positions, len(labels)]
        for i, k in enumerate(positions, start=1):
            spans.setdefault((bounds[i - 1], k, bounds[i + 1]), []).append(key)
    for (lo, k, hi), keys in sorted(spans.items()):
        judged = {m.key: m for m in s.judge(range(lo, k), range(k, hi), frozenset(keys), alpha)}
        for key in keys:
            m = judged.get(key)
            if m is None or m.verdict != found[key][k].verdict:
                m = found[key][k]  # the adjacent segments alone do not show it: as the search found it
            (m,) = acknowledge((m,), acks, (labels[k],), today)
            points.append(ChangePoint(m, labels[lo:k], labels[k:hi]))
    position = {label: i for i, label in enumerate(labels)}
    points = _attributed(points)
    points.sort(key=lambda cp: (position[cp.label], cp.role != "root", rank(cp.layer), cp.id))
    searched = {key for metrics in s.pooled.values() for key, p in metrics.items() if p.kind != "fact"}
    return History(labels, tuple(points), order, {label: len(runs[label]) for label in labels},
                   tuple(stack_order({key[0] for key in searched})), len(searched),
                   _series(labels, s.pooled, found), alpha, budget.source, acks.source, s.comparisons)
