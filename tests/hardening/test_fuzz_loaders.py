"""Issue 16, fuzzing in the suite: hypothesis mutates a good snapshot, triage.yaml, budget and
kubeconfig; every loader must give a valid result or InputFileError (exit 2), never another
exception. A snapshot that loads must also compare and render (in-process CLI) without a
crash: "validates, then crashes compare" was the bug. bench/fuzz.py runs a larger campaign."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.kubernetes import kube_states as ks
from triage.budget import parse_budget
from triage.config import parse_config
from triage.errors import InputFileError
from triage.kube_client import read_kubeconfigs, validate_kubeconfig
from triage.model import Snapshot
from triage.secrets import kubeconfig_secrets

from .helpers import inproc
from .test_snapshot_bounds import GOOD

FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# What broke the engine before (issue 16), offered as often as ordinary values.
HOSTILE = st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1.7e308, 5e-324, -1, 0, 10**12, 10**8, 10**400,
                           True, "\ud800", "", "x" * 300, "network", "samples", "fact", "[", "*a", None])
SCALARS = HOSTILE | st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
TOKENS = st.sampled_from(["NaN", "-Infinity", "1e999", "9" * 5000, '"\\ud800"', "[" * 1200, "{", "}", ",", '"',
                          "&a", "*a", "&a [*a]", "<<: *a", "!!timestamp 2020-99-99", "!!binary x", "\t", "\x00",
                          ": ", "- ", "\n  ", "? ", "%YAML 1.1\n", "---\n", "'", "\\", "\ud800"])


def _paths(value: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, path + (i,))
    return out


def mutate_tree(data: Any, draw) -> Any:
    """A few structural edits: replace, delete or add at a random path."""
    data = copy.deepcopy(data)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(data)
        path = draw(st.sampled_from(paths))
        if not path:
            data = draw(VALUES) if draw(st.integers(0, 9)) == 0 else data
            continue
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        op = draw(st.sampled_from(["replace", "delete", "add"]))
        if op == "replace":
            parent[path[-1]] = draw(HOSTILE | VALUES)  # a hostile scalar half the time
        elif op == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(VALUES)
        else:
            parent.insert(path[-1], draw(VALUES))
    return data


def mutate_text(text: str, draw) -> str:
    """A few textual edits: a hostile token inserted, a span deleted or duplicated, truncation."""
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "insert", "delete", "duplicate", "truncate"]))
        if op == "insert":
            text = text[:at] + draw(TOKENS | st.text(max_size=6)) + text[at:]
        elif op == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 20)):]
        elif op == "duplicate":
            text = text[:at] + text[at:at + 40] * draw(st.integers(2, 4)) + text[at:]
        else:
            text = text[:at]
    return text


def _dump_json(data: Any) -> str:
    try:
        return json.dumps(data)
    except (ValueError, TypeError):
        return json.dumps(str(data))


@FUZZ
@given(st.data())
def test_snapshot_loader_and_everything_downstream(tmp_path_factory, data):
    draw = data.draw
    tree = mutate_tree(GOOD, draw) if draw(st.booleans()) else GOOD
    text = _dump_json(tree)
    if draw(st.booleans()):
        text = mutate_text(text, draw)
    try:
        snapshot = Snapshot.from_json(text, "fuzz.json")
    except InputFileError:
        return
    for m in (m for r in snapshot.results for m in r.measurements if m.kind == "samples"):
        assert all(math.isfinite(v) for v in m.values)
    path = tmp_path_factory.mktemp("fuzz") / "s.json"
    path.write_text(text, encoding="utf-8")
    for args in (("compare", str(path), str(path), "--format", "json"), ("compare", str(path), str(path)),
                 ("report", str(path), str(path), "--format", "markdown"),
                 ("report", str(path), str(path), "--format", "junit")):
        status, out, err = inproc(*args)
        assert status in (0, 2, 3, 4) and "Traceback" not in err, (args, status, err[-500:])


GOOD_CONFIG = """samples: 20
probe_timeout: 30
targets:
  - name: registry
    url: http://127.0.0.1:8080/health
    headers: {X-Team: quay}
    timeout: 2
  - name: registry-db
    dsn: postgresql://quay@db.example:5432/quay
    queries:
      - {name: image-layer-fetch, sql: "SELECT 1"}
  - name: db-host
    host: quay-db.quay.svc
    port: 5432
dns:
  resolvers: [system, "127.0.0.1:5353"]
  names: [quay-db.quay.svc]
kubernetes:
  kubeconfig: /nonexistent/kubeconfig
  context: staging
  namespaces: [quay]
"""

GOOD_BUDGET = """relative: 10%
absolute: {ms: 0.05, count: 1}
rules:
  - match: "dns.*.*.latency"
    relative: 5%
    absolute: 0.02
  - match: "kernel.*.*.kernel_release"
    regress_on_change: true
  - match: "app.*.canary.*"
    ignore: true
"""


def _yaml_input(good: str, draw) -> str:
    if draw(st.booleans()):
        try:
            return mutate_text(yaml.safe_dump(mutate_tree(yaml.safe_load(good), draw)), draw) \
                if draw(st.booleans()) else yaml.safe_dump(mutate_tree(yaml.safe_load(good), draw))
        except yaml.YAMLError:
            pass
    return mutate_text(good, draw)


@FUZZ
@given(st.data())
def test_config_loader(data):
    try:
        parse_config(_yaml_input(GOOD_CONFIG, data.draw), "triage.yaml")
    except InputFileError:
        pass


@FUZZ
@given(st.data())
def test_budget_loader(data):
    try:
        parse_budget(_yaml_input(GOOD_BUDGET, data.draw), "budgets.yaml")
    except InputFileError:
        pass


@FUZZ
@given(st.data())
def test_kubeconfig_loader(tmp_path_factory, data):
    directory = tmp_path_factory.mktemp("kc")
    good = ks.write_kubeconfig(Path(directory) / "good", "http://127.0.0.1:1", basic=("admin", "pw")).read_text()
    path = Path(directory) / "kubeconfig"
    path.write_text(_yaml_input(good, data.draw), encoding="utf-8", errors="surrogatepass")
    try:
        validate_kubeconfig(str(path), "staging")
    except InputFileError:
        pass
    try:
        docs = read_kubeconfigs(str(path))
    except InputFileError:
        return
    for _, doc in docs:
        assert all(isinstance(s, str) for s in kubeconfig_secrets(doc))
