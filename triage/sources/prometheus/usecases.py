"""`triage probe --from prometheus` and `triage gate --from prometheus`: the engine side.

The windows are chosen first (and the ClusterVersion history read, for the upgrade forms),
then everything that can be refused is checked, then the history is read. Nothing here
prints: the chosen windows and the notes come back in the result for the CLI to show.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from triage.config import Config, PrometheusConfig, load_config
from triage.errors import BadInput
from triage.engine import GateResult, check_paths
from triage.engine import gate as judge_and_report
from triage.fileio import atomic_write_text
from triage.judging import Judging
from triage.rerun import REPORT_FILE, for_prometheus_gate
from triage.kube_client import KubeError, client_for, layer_enabled
from triage.labels import AUTO
from triage.model import Snapshot
from triage.probes.kube_reads import CLUSTER_VERSION
from triage.runner import RunOptions, status_counts
from triage.store import check_label

from .collect import Collected, collect, problems
from .windows import Window, format_duration, parse_window

UNLABELLED = "unlabelled"  # the probe command's default label: a window with a known version names itself


@dataclass(frozen=True)
class Read:
    """One window read: what was chosen, what came back."""

    window: Window
    collected: Collected

    @property
    def snapshot(self) -> Snapshot:
        return self.collected.snapshot


@dataclass(frozen=True)
class PromProbe:
    read: Read
    out: str | None
    problems: tuple[str, ...]
    counts: str


@dataclass(frozen=True)
class PromGate:
    result: GateResult
    reads: tuple[Read, ...]  # the baseline's window first when it came from Prometheus too


def prometheus_config(config: Config) -> PrometheusConfig:
    if config.prometheus is None:
        raise BadInput(f"--from prometheus: {config.source} has no prometheus: section (url, headers or token_file, "
                       "block, profiles, queries); see the README, \"Prometheus source\"")
    return config.prometheus


def cluster_history(config: Config) -> Sequence[Mapping[str, Any]]:
    """ClusterVersion ``status.history`` (newest first), read with the kubernetes layer's client."""
    if not layer_enabled(config.kubernetes):
        raise BadInput("--window upgrade:VERSION needs the cluster's ClusterVersion: configure the kubernetes "
                       "layer (kubernetes: in triage.yaml, --kubeconfig or KUBECONFIG)")
    try:
        body = client_for(config.kubernetes).get(CLUSTER_VERSION)
    except KubeError as exc:
        raise BadInput(f"--window: cannot read the ClusterVersion history: {exc}") from None
    history = (body.get("status") or {}).get("history")
    if not isinstance(history, list) or not history:
        raise BadInput("--window: the ClusterVersion has no status.history (not an OpenShift cluster that upgraded?)")
    return history


def window_spec(window: str | None, before_upgrade: str | None) -> str:
    """``--window`` and ``--before-upgrade VERSION`` as one window spec. With both, --window is
    the span (``--before-upgrade 4.3.19 --window 2h``)."""
    if before_upgrade:
        if window and window.strip()[:1].isdigit() and "T" not in window:
            return f"before-upgrade:{before_upgrade}/{window.strip()}"
        if window:
            raise BadInput("--before-upgrade: give --window only as its span (a duration like 2h), "
                           f"got --window {window!r}")
        return f"before-upgrade:{before_upgrade}"
    if not window:
        raise BadInput("--from prometheus: --window is required (START/DURATION, DURATION, upgrade:VERSION) "
                       "or --before-upgrade VERSION")
    return window


def choose_window(config: Config, spec: str, now: dt.datetime | None = None) -> Window:
    now = now or dt.datetime.now(dt.timezone.utc)
    return parse_window(spec, now=now, history=lambda: cluster_history(config))


def _label(label: str, window: Window) -> str:
    if label in (AUTO, UNLABELLED) and window.version:
        return window.version
    if label == AUTO:
        raise BadInput("--label auto: this window does not say which version it covers; give the label")
    return label


def read(config: Config, window: Window, label: str, deadline_s: float = 600.0) -> Read:
    collected = collect(prometheus_config(config), window, _label(label, window), source=config.source,
                        deadline_s=deadline_s)
    return Read(window, collected)


def probe(*, config_path: str | None, window: str | None, before_upgrade: str | None = None,
          label: str = UNLABELLED, out: str | None = None, deadline_s: float = 600.0,
          now: dt.datetime | None = None, config: Config | None = None) -> PromProbe:
    """`triage probe --from prometheus`: one window read into a snapshot, written to ``out``."""
    config = config or load_config(config_path)
    prometheus_config(config)
    chosen = choose_window(config, window_spec(window, before_upgrade), now)
    done = read(config, chosen, label, deadline_s)
    if out:
        atomic_write_text(out, done.snapshot.to_json())
    return PromProbe(done, out, tuple(problems(done.snapshot)) + done.collected.notes, status_counts(done.snapshot))


def gate(*, config_path: str | None, window: str | None, baseline: str | None, before_upgrade: str | None = None,
         label: str = UNLABELLED, judging: Judging = Judging(), save_as: str | None = None,
         deadline_s: float = 600.0, report_path: str = REPORT_FILE, junit_path: str | None = None,
         step_summary: str | None = None, now: dt.datetime | None = None, config: Config | None = None) -> PromGate:
    """`triage gate --from prometheus`: the window judged against a stored ``baseline`` label,
    or, for ``--window upgrade:VERSION`` without one, against the same span before the rollout;
    the report written as `triage gate` writes it (triage.engine.gate)."""
    judging.load()  # refuse a bad α, budget, acks, --save-as or output path before reading any window
    if save_as:
        check_label(save_as)
    check_paths([("--report", report_path), ("--junit", junit_path)])
    config = config or load_config(config_path)
    prom = prometheus_config(config)
    spec = window_spec(window, before_upgrade)
    candidate_window = choose_window(config, spec, now)
    reads: list[Read] = []
    baseline_runs: list[Snapshot] | None = None
    if baseline is None:
        if not spec.startswith("upgrade:"):
            raise BadInput("--baseline: required, unless --window upgrade:VERSION (then the same span before the "
                           "rollout is the baseline)")
        before = choose_window(config, f"before-upgrade:{spec[len('upgrade:'):].split('/')[0]}/"
                                       f"{format_duration(candidate_window.duration)}", now)
        reads.append(read(config, before, before.version or "before", deadline_s))
        baseline_runs = [reads[0].snapshot]
    taken: list[Read] = []

    def take(options: RunOptions, runs: Sequence[Snapshot]) -> Snapshot:
        _same_blocks(runs, prom.block_s, baseline or "")
        taken.append(read(config, candidate_window, label, deadline_s))
        return taken[0].snapshot

    commands = for_prometheus_gate(window=window, before_upgrade=before_upgrade, baseline=baseline,
                                   label=None if label == UNLABELLED else label, config=config_path,
                                   judging=judging)
    result = judge_and_report(baseline or reads[0].snapshot.label, RunOptions(label=label), judging,
                              config_path=config_path, save_as=save_as,
                              report_path=report_path, junit_path=junit_path, step_summary=step_summary, take=take,
                              baseline_runs=baseline_runs, commands=commands, config=config)
    return PromGate(result, tuple(reads + taken))


def _same_blocks(runs: Sequence[Snapshot], block_s: float, spec: str) -> None:
    """Counts per block compare only between equal blocks: refuse a baseline read in others."""
    for snap in runs:
        source = snap.extra.get("source")
        if isinstance(source, dict) and source.get("kind") == "prometheus" and source.get("block_s") not in (None, block_s):
            raise BadInput(f"--baseline {spec}: its run of {snap.taken_at} was read in {source['block_s']:g} s blocks, "
                           f"this window in {block_s:g} s: counts per block would not compare; set prometheus.block "
                           "to the baseline's")
