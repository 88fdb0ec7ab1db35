"""`--from prometheus` for `triage probe` and `triage gate`: the options checked, one engine
call (triage.sources.prometheus.usecases), the chosen windows and notes on stderr."""

from __future__ import annotations

from triage.errors import BadInput


def _check(source: str) -> None:
    if source != "prometheus":
        raise BadInput(f"--from: expected probes or prometheus, got {source!r}"
                       if source != "probes" else "--window/--before-upgrade: only with --from prometheus")


def _config(config: str | None, kubeconfig: str | None = None, context: str | None = None):
    from triage.config import load_config, with_kubernetes

    return with_kubernetes(load_config(config), kubeconfig, context)


def _windows(env, reads, quiet: bool) -> None:
    if quiet:
        return
    for r in reads:
        env.err(f"triage: window {r.snapshot.label}: {r.window.describe()}")
        for note in r.collected.notes:
            env.err(f"triage: {note}")


def probe_from_prometheus(env, source: str, window: str | None, before_upgrade: str | None, *, label: str,
                          out: str | None, fmt: str, quiet: bool, config: str | None, kubeconfig: str | None,
                          context: str | None, deadline: float) -> None:
    from triage.sources.prometheus import usecases

    _check(source)
    run = usecases.probe(config_path=config, window=window, before_upgrade=before_upgrade, label=label, out=out,
                         deadline_s=deadline, config=_config(config, kubeconfig, context))
    from . import output

    # fmt was checked by `triage probe` before any query went out
    if fmt == "json" or not (quiet and out):  # json: the snapshot is the output, even with --quiet
        env.out(output.text(env, run.read.snapshot, fmt))
    _windows(env, (run.read,), quiet)
    if not quiet:
        for line in run.problems:
            if line not in run.read.collected.notes:
                env.err(f"triage: {line}")
        if out:
            env.err(f"triage: wrote {out} ({run.counts})")


def gate_from_prometheus(env, source: str, window: str | None, before_upgrade: str | None, *, baseline: str | None,
                         label: str, config: str | None, judging, save_as: str | None, deadline: float, quiet: bool,
                         report: str, junit: str | None):
    from triage.sources.prometheus import usecases

    _check(source)
    gated = usecases.gate(config_path=config, window=window, baseline=baseline, before_upgrade=before_upgrade,
                          label="unlabelled" if label == "candidate" else label, judging=judging,
                          save_as=save_as, deadline_s=deadline,
                          report_path=report, junit_path=junit,
                          step_summary=env.step_summary, config=_config(config))
    _windows(env, gated.reads, quiet)
    return gated.result
