"""The use cases: one entry point per command, usable as a library.

Each entry point first checks everything it can refuse (labels, alpha, budget, config, the
paths it will write), then does the work, writes its files through triage.fileio, and returns
a frozen result carrying everything a renderer needs, including the commands that rerun it
(triage.rerun). Nothing here prints: progress and phase lines go to the caller's callbacks.

    init       a commented triage.yaml from what it can see -> InitResult
    doctor     which layers can run here, and what they lack -> Checkup
    probe      run the probes, write the snapshot            -> ProbeRun
    compare    judge two sides (files or stored labels)      -> Comparison
    changes    what changed between two sides, by layer      -> ChangeSet
    history    change points across stored labels            -> History
    calibrate  floors from the noise of one label's runs     -> Calibration
    report     a saved comparison, or two sides judged now   -> Comparison
    ab         two live platforms interleaved, then judged   -> Comparison
    gate       probe now, judge against a baseline, report   -> GateResult
    demo       the DNS hunt on loopback, end to end          -> DemoResult
    repro_dns  the DNS reproducer's workload                 -> ReproReport
    serve_dns  the DNS reproducer's fault server, until Ctrl-C
    repro_db   the cold-cache storm against PostgreSQL       -> DbReproReport

`probe` and `gate` with ``--from prometheus`` (windows of recorded history instead of probing
now) are triage.sources.prometheus.usecases; that gate ends in ``gate`` here.

Baseline operations (save, list, show, history, rm) are the store's own (triage.store).
"""

from __future__ import annotations

import fnmatch
import os
import shlex
import tempfile
import time
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Sequence

from . import rerun, starter
from .budget import load_budget, parse_budget
from .calibration import MIN_RUNS, Calibration
from .calibration import calibrate as calibrate_runs
from .changepoints import History
from .changes import ChangeSet
from .changes import diff as diff_changes
from .config import DEFAULT_CONFIG_NAME, Config, load_config, parse_config, with_kubernetes
from .errors import BadInput, StoreError
from .fileio import atomic_append_text, atomic_create_text, atomic_write_text, check_writable, read_input
from .interleave import Platform, probe_interleaved
from .judge import collector_paused, compare_snapshots
from .judging import Judging
from .layers import LAYERS
from .model import Snapshot
from .readiness import Checkup, checkup
from .report import RenderOptions, chart_images, charts, render
from .repro import demo_scenario
from .repro.db_report import DbReproReport
from .repro.db_repro import DbTarget, run_db_repro
from .repro.db_storm import StormOptions
from .repro.demo_platform import DemoPlatform
from .repro.dns_report import ReproReport
from .repro.dns_repro import run_dns_repro
from .repro.dns_server import EmbeddedDnsServer, check_bind, serve_until_interrupted
from .repro.dns_workload import WorkloadOptions
from .repro.progress import ReproProgress
from .runner import Progress, RunOptions, probes_for, run_probes, status_counts, summarise_problems
from .segmentation import MIN_LABELS, find_change_points, selection
from .sequential import until_decided
from .stats import MAX_LOOKS
from .store import SnapshotStore, StoredRun, check_label, is_file_spec, load_side, resolve_store_path
from .store_remote import open_store
from .verdict import Comparison
from .versions import by_time, by_version

Phase = Callable[[str], None]
ProgressFor = Callable[[str], Progress]  # a label -> the progress of one run probing it


def _quiet(text: str) -> None:
    pass


@dataclass(frozen=True)
class ProbeRun:
    snapshot: Snapshot
    out: str | None  # where the snapshot was written, if anywhere
    problems: tuple[str, ...]  # one line per probe error or per layer's skips
    counts: str  # "N results: a ok, b errors, c skipped"


@dataclass(frozen=True)
class InitResult:
    path: str  # the triage.yaml written
    seen: tuple[str, ...]  # one line per layer: what was found and written for it
    next_command: str


@dataclass(frozen=True)
class GateResult:
    comparison: Comparison  # with the command that reruns this gate
    runs: tuple[Snapshot, ...]  # the candidate's runs: one, or one per round (--until-decided)
    saved: tuple[StoredRun, ...]  # the runs stored under --save-as (only when the gate passed)
    report: str  # the Markdown report written
    junit: str | None  # the JUnit XML written, if asked
    summary: str | None  # the step summary appended to, if any


@dataclass(frozen=True)
class DemoResult:
    comparison: Comparison  # with the commands that rerun the demo and its comparison
    store: str
    report: str
    elapsed_s: float

    loaded: bool = False  # ramped both platforms (--load)
    next_steps: tuple[str, ...] = ()  # commands to try next on the stored runs (triage.rerun)

    @property
    def named_dns(self) -> bool:
        if self.loaded:
            return demo_scenario.names_capacity_loss(self.comparison)
        return demo_scenario.names_dns(self.comparison)

    @property
    def exit_status(self) -> int:
        """0 when the demo showed what it exists to show, else the verdict's status (never 0)."""
        return 0 if self.named_dns else int(self.comparison.exit_status) or 4


def check_paths(paths: Iterable[tuple[str, str | None]]) -> None:
    """Refuse (BadInput) each output path given that cannot be written, before any work."""
    for option, path in paths:
        if path:
            check_writable(path, option)


def _report(c: Comparison) -> str:
    """The full Markdown report, as written to a file (no colour)."""
    return render(c, "markdown", RenderOptions(full_report=True))


def probe(options: RunOptions, *, config_path: str | None = None, kubeconfig: str | None = None,
          context: str | None = None, out: str | None = None, progress: Progress | None = None) -> ProbeRun:
    """`triage probe`: run the probes of ``options.layers`` and write the snapshot to ``out``."""
    check_paths([("--out", out)])
    config = with_kubernetes(load_config(config_path), kubeconfig, context)
    snapshot = run_probes(config, options, progress)
    if out:
        atomic_write_text(out, snapshot.to_json())
    return ProbeRun(snapshot, out, tuple(summarise_problems(snapshot)), status_counts(snapshot))


def init(path: str = DEFAULT_CONFIG_NAME, *, force: bool = False, prometheus: str | None = None) -> InitResult:
    """`triage init`: a commented triage.yaml from what this machine shows (triage.starter),
    checked to load as `triage probe --config` loads it; an existing file is refused unless ``force``."""
    if prometheus:
        starter.check_prometheus_url(prometheus)
    if not force and os.path.lexists(path):
        raise BadInput(f"{path} exists; refusing to overwrite it (--force replaces it)")
    check_paths([("PATH", path)])
    seen = starter.look_around(prometheus=prometheus)
    text = starter.starter_yaml(seen)
    parse_config(text, path)  # what init writes, probe takes: a failure here is triage's own bug
    if force:
        atomic_write_text(path, text)
    else:
        atomic_create_text(path, text, "--force")
    doctor_cmd = "triage doctor" + ("" if path == DEFAULT_CONFIG_NAME else f" --config {shlex.quote(path)}")
    return InitResult(path, tuple(seen.report()), doctor_cmd)


def doctor(*, config_path: str | None = None, kubeconfig: str | None = None,
           context: str | None = None) -> Checkup:
    """`triage doctor`: for each layer the config turns on, whether it can run here and what it
    lacks (triage.readiness). A config that does not load is BadInput (exit 2)."""
    return checkup(with_kubernetes(load_config(config_path), kubeconfig, context))


def _load_sides(specs: Sequence[str], store_option: str | None,
                store: SnapshotStore | None = None) -> list[tuple[str, list[Snapshot]]]:
    """Each side as load_side reads it. The store is opened (a remote one cloned or fetched)
    only when a side is a label, and only when the caller has not opened it already."""
    if store is None and not all(is_file_spec(spec) for spec in specs):
        store = open_store(store_option)
    with collector_paused():
        return [load_side(spec, store) for spec in specs]


def compare_sides(baseline: str, candidate: str, judging: Judging = Judging(), *,
                  store: SnapshotStore | None = None) -> Comparison:
    """Load both sides (snapshot files or stored labels, from ``store`` when it is open
    already), the budget and the acks, and judge. Raises BadInput/InputFileError/StoreError."""
    budget, acks = judging.load()  # before any snapshot is read
    (a_source, a_snaps), (b_source, b_snaps) = _load_sides((baseline, candidate), judging.store, store)
    return compare_snapshots(a_snaps, b_snaps, baseline_spec=baseline, candidate_spec=candidate, budget=budget,
                             alpha=judging.alpha, sources=(a_source, b_source),
                             require_decided=judging.require_decided, acks=acks)


def compare(baseline: str, candidate: str, judging: Judging = Judging()) -> Comparison:
    """`triage compare`: each side a snapshot file or a stored label (all its runs pooled).
    ``judging.require_decided``: undecided metrics make the verdict inconclusive (exit 4)."""
    c = compare_sides(baseline, candidate, judging)
    return replace(c, commands=rerun.for_comparison(c, judging))


HISTORY_ORDERS = ("version", "time")


def _history_labels(store: SnapshotStore, patterns: Sequence[str]) -> list[str]:
    """The stored labels named (globs allowed: labels never hold * ? [), or all of them."""
    known = store.labels()
    if not patterns:
        return known
    chosen: list[str] = []
    for pattern in patterns:
        hits = [label for label in known if fnmatch.fnmatchcase(label, pattern)]
        if not hits:
            raise StoreError(f"no stored label matches {pattern!r} in store {store.root}; known labels: "
                             f"{', '.join(known) or '(none)'}")
        chosen += [label for label in hits if label not in chosen]
    return chosen


def history(labels: Sequence[str] = (), judging: Judging = Judging(), *, layers: Sequence[str] = (),
            metrics: Sequence[str] = (), order: str = "version") -> History:
    """`triage history`: change points of every metric across stored labels (all of them, or
    ``labels``, globs allowed), in version order (natural sort) or by time of their first run;
    ``layers``/``metrics`` (globs on layer.probe.target.metric) narrow what is searched."""
    budget, acks = judging.load()
    if order not in HISTORY_ORDERS:
        raise BadInput(f"--order: expected version or time, got {order!r}")
    for layer in layers:
        if layer not in LAYERS:
            raise BadInput(f"--layer: expected one of {', '.join(LAYERS)}, got {layer!r}")
    store = open_store(judging.store)
    chosen = _history_labels(store, labels)
    if len(chosen) < 2 * MIN_LABELS:
        raise BadInput(f"history: {len(chosen)} label{'s' if len(chosen) != 1 else ''} in store {store.root}; a "
                       f"change point needs {MIN_LABELS} labels on each side, so at least {2 * MIN_LABELS} "
                       "(two labels: triage compare)")
    with collector_paused():
        runs = {label: store.load_label(label) for label in chosen}
    ordered = by_version(chosen) if order == "version" else by_time(chosen, {l: [s.taken_at for s in r]
                                                                            for l, r in runs.items()})
    h = find_change_points(ordered, runs, budget=budget, alpha=judging.alpha, acks=acks,
                           keep=selection(tuple(layers), tuple(metrics)) if layers or metrics else None, order=order)
    if not h.metrics:
        raise BadInput(f"history: no metric of {', '.join(layers) or 'any layer'} matches "
                       f"{' or '.join(repr(g) for g in metrics) or 'anything'} in these labels")
    return h


CALIBRATED_FILE = "calibrated-budgets.yaml"


def calibrate(label: str | None = None, judging: Judging = Judging(), *, runs: int | None = None,
              options: RunOptions = RunOptions(label="calibration"), config_path: str | None = None,
              out: str = CALIBRATED_FILE, save: bool = False, progress: ProgressFor | None = None) -> Calibration:
    """`triage calibrate`: the run-to-run noise of each metric over the stored runs of ``label``,
    or over ``runs`` runs probed now (labelled ``options.label``, stored under it when ``save``);
    writes a budgets file to ``out`` whose floors are that noise (triage.calibration)."""
    judging.load()
    check_paths([("--out", out)])
    if (label is None) == (runs is None):
        raise BadInput("calibrate: name a stored LABEL, or probe now with --runs N (and --label)")
    if runs is not None and runs < MIN_RUNS:
        raise BadInput(f"--runs: expected at least {MIN_RUNS} (run-to-run noise needs a spread), got {runs}")
    store = open_store(judging.store)
    if label is not None:
        snapshots = store.load_label(label)
        if len(snapshots) < MIN_RUNS:
            raise BadInput(f"calibrate: label {label!r} has {len(snapshots)} stored run"
                           f"{'s' if len(snapshots) != 1 else ''}; at least {MIN_RUNS} needed (store more, or --runs)")
    else:
        check_label(options.label)
        config = load_config(config_path)
        snapshots = [run_probes(config, options, progress(f"run {i + 1}/{runs}") if progress else None)
                     for i in range(runs)]
        if save:
            for snap in snapshots:
                store.save_snapshot(options.label, snap)
    result = calibrate_runs(snapshots, label=label or options.label, alpha=judging.alpha)
    parse_budget(result.budget_text, out)  # what is written is always valid --budget input
    atomic_write_text(out, result.budget_text)
    return replace(result, out=out)


def changes(baseline: str, candidate: str, *, store: str | None = None,
            budget_path: str | None = None) -> ChangeSet:
    """`triage changes`: the packages and platform components that differ between two sides
    (snapshot files or stored labels), each in its layer (the budget's ``changes:`` first).
    Judges nothing. Raises BadInput/InputFileError/StoreError."""
    rules = load_budget(budget_path).changes
    (_, a_snaps), (_, b_snaps) = _load_sides((baseline, candidate), store)
    return diff_changes(a_snaps, b_snaps, rules)


def load_comparison(path: str) -> Comparison:
    """A comparison saved with `triage compare --format json`."""
    return Comparison.from_json(read_input(path, "comparison JSON"), path)


def report(first: str, second: str | None = None, judging: Judging = Judging(), *,
           charts_dir: str | None = None) -> Comparison:
    """`triage report`: one argument is a saved comparison JSON (rerun by the commands it
    carries, else by those its sides imply); two are sides judged now. ``charts_dir``: also
    write the report's charts there as PNG and SVG (needs matplotlib, checked first)."""
    if charts_dir:
        chart_images.require()
        if os.path.exists(charts_dir) and not os.path.isdir(charts_dir):
            raise BadInput(f"--charts-dir {charts_dir}: exists and is not a directory")
    if second is not None:
        c = compare(first, second, judging)
    else:
        c = load_comparison(first)
        if not c.commands:
            c = replace(c, commands=rerun.for_comparison(c, judging))
    if charts_dir:
        chart_images.write_charts(charts.charts(c), charts_dir)
    return c


def _interleave_and_judge(baseline: Platform, candidate: Platform, options: RunOptions, rounds: int,
                          judging: Judging, *, progress: ProgressFor | None, phase: Phase) -> Comparison:
    """Probe both platforms interleaved, store every run in ``judging.store``, then judge
    candidate's runs against baseline's."""
    store = open_store(judging.store)
    probe_interleaved((baseline, candidate), options, rounds, store, progress=progress, phase=phase)
    phase(f"comparing {baseline.label} → {candidate.label}")
    return compare_sides(baseline.label, candidate.label, judging, store=store)  # fetched once, not again


def ab(baseline: tuple[str, str], candidate: tuple[str, str], options: RunOptions, rounds: int,
       judging: Judging = Judging(), *, progress: ProgressFor | None = None, phase: Phase = _quiet) -> Comparison:
    """`triage ab`: two live platforms, each (label, config path), probed interleaved so drift cancels."""
    judging.load()  # refuse a bad α, budget or acks before spending minutes probing
    for label, _ in (baseline, candidate):
        check_label(label)
    platforms = [Platform(label, load_config(path)) for label, path in (baseline, candidate)]
    judging = replace(judging, store=resolve_store_path(judging.store))
    c = _interleave_and_judge(*platforms, options, rounds, judging, progress=progress, phase=phase)
    return replace(c, commands=rerun.for_ab(baseline, candidate, rounds=rounds, layers=options.layers,
                                            samples=options.samples, judging=judging, load=options.load,
                                            allow_load=options.allow_load))


def gate(baseline_label: str, options: RunOptions, judging: Judging = Judging(), *, config_path: str | None = None,
         save_as: str | None = None, layers_given: bool = False, report_path: str = rerun.REPORT_FILE,
         junit_path: str | None = None, step_summary: str | None = None, progress: Progress | None = None,
         take: Callable[[RunOptions, Sequence[Snapshot]], Snapshot] | None = None,
         baseline_runs: Sequence[Snapshot] | None = None, commands: tuple[str, ...] | None = None,
         max_rounds: int | None = None, clock: Callable[[], float] = time.monotonic,
         config: Config | None = None) -> GateResult:
    """`triage gate`: probe now, judge against the stored ``baseline_label``, write the Markdown
    report (and JUnit, and append to the CI step summary), and keep the run when it passes.
    ``max_rounds`` (--until-decided): probe again what is undecided, up to that many rounds in
    all within ``options.deadline_s`` (triage.sequential); every round's run is kept.

    Another source of the candidate (`--from prometheus`, triage.sources.prometheus.usecases)
    passes ``take(options, baseline runs)``, ``baseline_runs`` when the baseline is not a
    stored label, the ``commands`` that rerun it, and the ``config`` it read already."""
    budget, acks = judging.load()
    check_rounds(max_rounds, probing=take is None)
    check_paths([("--report", report_path), ("--junit", junit_path)])
    if save_as:
        check_label(save_as)
    config = config or load_config(config_path)
    snapshots = open_store(judging.store)
    baseline = list(baseline_runs) if baseline_runs is not None else snapshots.load_label(baseline_label)
    if not layers_given:
        # Probe what the baseline knows about: a layer it never measured can only be "absent".
        seen = {r.layer for snap in baseline for r in snap.results if r.status == "ok"}
        options = replace(options, layers=tuple(layer for layer in options.layers if layer in seen) or options.layers)
    started = clock()
    snapshot = take(options, baseline) if take else run_probes(config, options, progress)
    sides = dict(baseline_spec=baseline_label, candidate_spec=snapshot.label if take else f"{snapshot.label} (now)",
                 budget=budget, alpha=judging.alpha, sources=("label" if baseline_runs is None else "file", "file"),
                 require_decided=judging.require_decided, acks=acks)
    if max_rounds is None:
        c, runs = compare_snapshots(baseline, [snapshot], **sides), (snapshot,)
    else:
        def again(keys, seconds_left):
            # Later rounds re-run probes only: a ramp is no sample to add to (its steps are one run's).
            rerun_options = replace(options, label=snapshot.label, deadline_s=seconds_left or options.deadline_s,
                                    load=False)
            return run_probes(config, rerun_options, progress, specs=probes_for(keys, options.layers))

        decided = until_decided(baseline, snapshot, again, max_rounds=max_rounds,
                                deadline=started + options.deadline_s, clock=clock, **sides)
        c, runs = decided.comparison, decided.runs
    c = replace(c, commands=commands or rerun.for_gate(
        baseline_label, options.label, judging, config=config_path, layers=options.layers if layers_given else None,
        samples=options.samples, load=options.load, allow_load=options.allow_load, max_rounds=max_rounds))
    markdown = _report(c)
    atomic_write_text(report_path, markdown)
    if junit_path:
        atomic_write_text(junit_path, render(c, "junit"))
    if step_summary:
        atomic_append_text(step_summary, markdown + "\n")
    saved = tuple(snapshots.save_snapshot(save_as, run) for run in runs) if save_as and c.verdict == "ok" else ()
    return GateResult(c, runs, saved, report_path, junit_path, step_summary)


def check_rounds(max_rounds: int | None, *, probing: bool = True) -> None:
    """--until-decided --max-rounds K: 1 to MAX_LOOKS rounds, and only when probing now."""
    if max_rounds is None:
        return
    if not probing:
        raise BadInput("--until-decided: probes again what is undecided; a window of recorded history does not "
                       "grow (drop --from prometheus, or widen --window)")
    if not 1 <= max_rounds <= MAX_LOOKS:
        raise BadInput(f"--max-rounds: expected 1 to {MAX_LOOKS} (round {MAX_LOOKS} is judged at "
                       f"α/{2 ** (MAX_LOOKS - 1)}), got {max_rounds}")


def demo(*, store: str | None = None, rounds: int = demo_scenario.ROUNDS,
         samples: int = demo_scenario.SAMPLES_PER_RUN, report_path: str = rerun.REPORT_FILE,
         progress: ProgressFor | None = None, phase: Phase = _quiet,
         clock: Callable[[], float] = time.monotonic, load: bool = False) -> DemoResult:
    """`triage demo`: start both demo platforms, probe them interleaved, store every run,
    compare the labels and write the Markdown report. ``load``: then ramp each platform
    (dns, app), so the verdict can name dns as the root of the app's capacity loss."""
    check_paths([("--report", report_path)])
    started = clock()
    root = store or tempfile.mkdtemp(prefix="triage-demo-store-")
    phase("starting 4.3.18 (healthy DNS) and 4.3.19 (DNS +3 ms, 1% AAAA lost) on loopback")
    with DemoPlatform(*demo_scenario.HEALTHY, seed=18) as healthy, \
            DemoPlatform(*demo_scenario.DEGRADED, seed=19) as degraded:
        c = _interleave_and_judge(Platform(healthy.label, demo_scenario.platform_config(healthy, samples)),
                                  Platform(degraded.label, demo_scenario.platform_config(degraded, samples)),
                                  RunOptions(layers=demo_scenario.LAYERS, load=load), rounds, Judging(store=root),
                                  progress=progress, phase=phase)
    c = replace(c, commands=rerun.for_demo(healthy.label, degraded.label, rounds=rounds, samples=samples,
                                           store_given=store, load=load))
    atomic_write_text(report_path, _report(c))
    return DemoResult(c, root, report_path, clock() - started, load,
                      rerun.demo_next_steps(healthy.label, degraded.label, root))


def repro_dns(profiles: Sequence[str], options: WorkloadOptions, *, progress: ReproProgress | None = None,
              save_dir: str | None = None) -> ReproReport:
    """`triage repro dns`: the app-like workload against each fault profile, one side each."""
    return run_dns_repro(profiles, options, progress, save_dir)


def serve_dns(profile: str, *, names: Sequence[str], bind: str, port: int, exposed: bool,
              announce: Callable[[EmbeddedDnsServer], None]) -> dict:
    """`triage repro dns serve`: the fault server in the foreground until Ctrl-C; its counters.
    A non-loopback ``bind`` without ``exposed`` is refused before the server starts."""
    check_bind(bind, exposed)
    return serve_until_interrupted(profile, names=names, bind=bind, port=port, exposed=exposed, announce=announce)


def repro_db(profiles: Sequence[str], target: DbTarget, options: StormOptions, *,
             progress: ReproProgress | None = None, phase: Phase = _quiet,
             snapshot_dir: str | None = None) -> DbReproReport:
    """`triage repro db`: the cold-cache storm, one side per profile, against a server named
    (``--dsn``, loopback unless allowed) or a throwaway one (``--embedded``). Everything it
    can refuse is refused before any packet is sent."""
    return run_db_repro(profiles, target, options, progress=progress, phase=phase, snapshot_dir=snapshot_dir)
