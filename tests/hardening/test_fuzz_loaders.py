"""Issue 16, fuzzing in the suite: hypothesis mutates a good snapshot, triage.yaml, budget and
kubeconfig (the seeds and hostile values of bench/fuzz.py, which runs a larger campaign);
every loader must give a valid result or InputFileError (exit 2), never another exception. A
snapshot that loads must also compare and render (in-process CLI) without a crash:
"validates, then crashes compare" was the bug."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.fuzz import BUDGET_SEED, CONFIG_SEED, HOSTILE_TEXT, HOSTILE_VALUES, KUBECONFIG_SEED, paths_of
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

# What broke the engine before (issue 16; bench/fuzz.py's catalogue), as often as ordinary values.
HOSTILE = st.sampled_from(HOSTILE_VALUES).map(copy.deepcopy)
SCALARS = HOSTILE | st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
TOKENS = st.sampled_from(HOSTILE_TEXT)


def mutate_tree(data: Any, draw) -> Any:
    """A few structural edits: replace, delete or add at a random path."""
    data = copy.deepcopy(data)
    for _ in range(draw(st.integers(1, 3))):
        paths = paths_of(data)
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


def _yaml_input(good: str, draw) -> str:
    if draw(st.booleans()):
        try:
            return mutate_text(yaml.safe_dump(mutate_tree(yaml.safe_load(good), draw)), draw) \
                if draw(st.booleans()) else yaml.safe_dump(mutate_tree(yaml.safe_load(good), draw))
        except yaml.YAMLError:
            pass
    return mutate_text(good, draw)


@pytest.mark.parametrize("parse, seed", [(parse_config, CONFIG_SEED), (parse_budget, BUDGET_SEED)],
                         ids=["triage.yaml", "budget"])
@FUZZ
@given(data=st.data())
def test_config_and_budget_loaders(parse, seed, data):
    try:
        parse(_yaml_input(seed, data.draw), "input.yaml")
    except InputFileError:
        pass


@FUZZ
@given(st.data())
def test_kubeconfig_loader(tmp_path_factory, data):
    path = Path(tmp_path_factory.mktemp("kc")) / "kubeconfig"
    path.write_text(_yaml_input(KUBECONFIG_SEED, data.draw), encoding="utf-8", errors="surrogatepass")
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
