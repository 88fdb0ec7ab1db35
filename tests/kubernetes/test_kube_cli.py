"""`triage probe` with --kubeconfig/--context/--label auto, through the CLI (in-process),
against the local Kubernetes API server; then `triage compare` on the two platform versions."""

from __future__ import annotations

import json
from pathlib import Path

from triage.kube_client import NO_KUBECONFIG

from . import kube_states as ks
from tests.cli_runner import CliResult, InProcessTriage


def triage(*args: str, cwd: Path, env: dict | None = None) -> CliResult:
    return InProcessTriage(str(cwd))(*args, env={"HOME": str(cwd), **(env or {})}, drop=("KUBECONFIG",))


def write_config(directory: Path) -> Path:
    path = directory / "triage.yaml"
    path.write_text("samples: 10\nkubernetes:\n  namespaces: [quay]\n  timeout: 5\n")
    return path


def test_label_auto_then_compare_flags_kubernetes_with_the_kernel_change(kube_server, kubeconfig, tmp_path):
    write_config(tmp_path)
    before_kc = kubeconfig(kube_server(ks.openshift("4.3.18")))
    after_kc = kubeconfig(kube_server(ks.openshift("4.3.19")))
    for kc, out in ((before_kc, "before.json"), (after_kc, "after.json")):
        done = triage("probe", "--layers", "kubernetes", "--label", "auto", "--kubeconfig", str(kc),
                      "--out", out, "--quiet", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    before = json.loads((tmp_path / "before.json").read_text())
    after = json.loads((tmp_path / "after.json").read_text())
    assert (before["label"], after["label"]) == ("4.3.18", "4.3.19")
    for snapshot in (before, after):
        assert ks.TOKEN not in json.dumps(snapshot)

    done = triage("compare", "before.json", "after.json", "--format", "json", cwd=tmp_path)
    assert done.returncode == 3, done.stderr
    comparison = json.loads(done.stdout)
    assert comparison["verdict"] == "regressed" and comparison["layers"]["kubernetes"] == "regressed"
    suspect = next(s for s in comparison["suspects"] if s["layer"] == "kubernetes")
    evidence = {e["metric"]: e for e in suspect["evidence"]}
    kernel = evidence["kubernetes.nodes.cluster.kernel_versions"]
    assert kernel["kind"] == "changed" and ks.KERNEL_4319 in kernel["text"]
    assert evidence["kubernetes.nodes.cluster.not_ready"]["kind"] == "regressed"


def test_403_on_nodes_is_summarised_with_the_rbac_hint_and_the_snapshot_is_written(kube_server, kubeconfig, tmp_path):
    write_config(tmp_path)
    state = ks.openshift("4.3.19")
    state.forbidden.add(("list", "nodes"))
    done = triage("probe", "--layers", "kubernetes", "--label", "auto", "--kubeconfig", str(kubeconfig(kube_server(state))),
                  "--context", "staging", "--out", "s.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert ("triage: probe kubernetes.nodes [cluster]: error: Forbidden: needs 'list' on 'nodes' (cluster-scoped); "
            "grant a ClusterRole with nodes list") in done.stderr
    snapshot = json.loads((tmp_path / "s.json").read_text())
    assert snapshot["label"] == "4.3.19"
    statuses = {(r["probe"], r["target"]): r["status"] for r in snapshot["results"]}
    assert statuses.pop(("nodes", "cluster")) == "error"
    assert set(statuses.values()) == {"ok"} and len(statuses) == 8


def test_without_a_kubeconfig_the_layer_is_skipped_and_label_auto_says_why(tmp_path):
    done = triage("probe", "--layers", "kubernetes", "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)["results"]
    assert {(r["status"], r["error"]) for r in results} == {("skipped", NO_KUBECONFIG)}
    done = triage("probe", "--layers", "kubernetes", "--label", "auto", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"triage: error: --label auto: no platform version found "
                                   f"(kubernetes.platform_version skipped: {NO_KUBECONFIG}); give the label explicitly")


def test_KUBECONFIG_from_the_environment_enables_the_layer(kube_server, kubeconfig, tmp_path):
    kc = kubeconfig(kube_server(ks.plain_kubernetes()))
    done = triage("probe", "--layers", "kubernetes", "--label", "auto", "--samples", "2", "--format", "json",
                  cwd=tmp_path, env={"KUBECONFIG": str(kc)})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["label"] == "v1.18.2"


def test_bad_kubeconfig_options_are_exit_2_with_the_reason(kube_server, kubeconfig, tmp_path):
    kc = kubeconfig(kube_server(ks.openshift("4.3.18")))
    done = triage("probe", "--layers", "kubernetes", "--kubeconfig", str(tmp_path / "missing"), cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.strip() == f"triage: error: {tmp_path / 'missing'}: no such kubeconfig file"
    done = triage("probe", "--layers", "kubernetes", "--kubeconfig", str(kc), "--context", "prod", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"triage: error: {kc}: contexts: no context 'prod' (--context); "
                                   "the file has: staging, other")
    done = triage("probe", "--layers", "kernel", "--label", "auto", cwd=tmp_path)
    assert done.returncode == 2 and "--label auto: the platform version comes from the kubernetes layer" in done.stderr


def test_probe_help_documents_the_kubernetes_options(tmp_path):
    done = triage("probe", "--help", cwd=tmp_path)
    assert done.returncode == 0
    assert "--kubeconfig" in done.stdout and "--context" in done.stdout and "'auto'" in done.stdout
