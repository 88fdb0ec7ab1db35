"""A bounded fuzzing campaign over triage's input loaders (issue 16): mutated snapshots,
triage.yaml configs, budgets and kubeconfigs, each run through the loader and, for a snapshot
that loads, through the real CLI entry in-process (compare as JSON, report as Markdown and
JUnit, against the unmutated seed). Every input must end as a valid result or a refusal
(InputFileError / exit 2); anything else is a crash, anything over --timeout a hang.

Prints crash and hang counts, the slowest input, and the first crashes. Never a test.
Run: python bench/fuzz.py [--inputs 10000] [--seed 16] [--workers 2] [--timeout 5]
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import math
import multiprocessing
import os
import queue
import random
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from typing import Any, Callable

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from triage.budget import parse_budget  # noqa: E402 - after the path set-up above
from triage.cli import main  # noqa: E402
from triage.cli.env import environment_from  # noqa: E402
from triage.config import parse_config  # noqa: E402
from triage.errors import BadInput  # noqa: E402
from triage.kube_client import read_kubeconfigs, validate_kubeconfig  # noqa: E402
from triage.model import Snapshot  # noqa: E402
from triage.secrets import kubeconfig_secrets  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(HERE), "tests", "fixtures", "compare")
SNAPSHOT_SEEDS = ("baseline-4.3.18.json", "candidate-dns-app.json", "candidate-dns-failed.json")

CONFIG_SEED = """samples: 20
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
  namespaces: [quay]
"""

BUDGET_SEED = """relative: 10%
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

KUBECONFIG_SEED = """apiVersion: v1
kind: Config
clusters:
- name: api-staging
  cluster: {server: "https://127.0.0.1:6443", certificate-authority-data: "LS0tLS1CRUdJTg=="}
contexts:
- name: staging
  context: {cluster: api-staging, user: triage, namespace: quay}
users:
- name: triage
  user:
    token: sha256~fuzz-token
    exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: oc, env: [{name: A, value: b}]}
current-context: staging
"""

# What broke the engine or the loaders before (issue 16), offered as often as ordinary values.
HOSTILE_VALUES = [math.nan, math.inf, -math.inf, 1e308, -1.7e308, 5e-324, -1, 0, 10**12, 10**8, 10**400, True,
                  None, "", "\ud800", "x" * 300, "network", "samples", "fact", "[", [], {}, [[[[[[]]]]]]]
HOSTILE_TEXT = ["NaN", "-Infinity", "1e999", "9" * 5000, '"\\ud800"', "[" * 1200, "{", "}", ",", '"', "&a", "*a",
                "&a [*a]", "<<: *a", "!!timestamp 2020-99-99", "!!binary x", "!!python/object:os.system", "\t",
                "\x00", ": ", "- ", "\n  ", "? ", "---\n", "'", "\\", "\ud800", "\u202e", "\x1b[2J"]
BOMB = "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9) if i else 'lol'}]\n" for i in range(9))


def paths_of(value: Any, path: tuple = ()) -> list[tuple]:
    """Every path (keys and indexes, at most 50 per list) into a JSON-like value."""
    out = [path]
    if isinstance(value, dict):
        for k, v in value.items():
            out += paths_of(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value[:50]):
            out += paths_of(v, path + (i,))
    return out


def _hostile(rng: random.Random) -> Any:
    return copy.deepcopy(rng.choice(HOSTILE_VALUES))  # a fresh one: shared lists would grow cycles


def mutate_tree(rng: random.Random, data: Any) -> Any:
    data = copy.deepcopy(data)
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(paths_of(data)[1:] or [()])
        if not path:
            continue
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        op = rng.choice(("replace", "replace", "delete", "add", "duplicate"))
        if op == "replace":
            parent[path[-1]] = _hostile(rng) if rng.random() < 0.7 else rng.randint(-10, 10**6)
        elif op == "delete":
            del parent[path[-1]]
        elif op == "add" and isinstance(parent, dict):
            parent[rng.choice(["x", "groups", "counter", "window_s", "extra", "value"])] = _hostile(rng)
        elif isinstance(parent, list):
            parent.insert(path[-1], copy.deepcopy(parent[path[-1]]))
    return data


def mutate_text(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 3)):
        at = rng.randint(0, len(text))
        op = rng.choice(("insert", "insert", "delete", "duplicate", "truncate", "flip"))
        if op == "insert":
            text = text[:at] + rng.choice(HOSTILE_TEXT) + text[at:]
        elif op == "delete":
            text = text[:at] + text[at + rng.randint(1, 30):]
        elif op == "duplicate":
            text = text[:at] + text[at:at + 60] * rng.randint(2, 5) + text[at:]
        elif op == "truncate":
            text = text[:at]
        elif at < len(text):
            text = text[:at] + chr(rng.randint(0, 0x7F)) + text[at + 1:]
    return text


def _json(data: Any) -> str:
    try:
        return json.dumps(data)
    except (ValueError, TypeError):  # a 400-digit integer is fine, a recursion is not
        return json.dumps(str(data))


def _yaml(rng: random.Random, seed: str) -> str:
    roll = rng.random()
    if roll < 0.05:
        return BOMB
    if roll < 0.45:
        text = yaml.safe_dump(mutate_tree(rng, yaml.safe_load(seed)), allow_unicode=True)
        return mutate_text(rng, text) if rng.random() < 0.3 else text
    return mutate_text(rng, seed)


def make_inputs(count: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    snapshots = [open(os.path.join(FIXTURES, name), encoding="utf-8").read() for name in SNAPSHOT_SEEDS]
    inputs = []
    for i in range(count):
        kind = ("snapshot", "snapshot", "config", "budget", "kubeconfig")[i % 5]
        if kind == "snapshot":
            base = rng.choice(snapshots)
            text = _json(mutate_tree(rng, json.loads(base))) if rng.random() < 0.7 else base
            inputs.append((kind, mutate_text(rng, text) if rng.random() < 0.4 else text))
        else:
            inputs.append((kind, _yaml(rng, {"config": CONFIG_SEED, "budget": BUDGET_SEED,
                                             "kubeconfig": KUBECONFIG_SEED}[kind])))
    return inputs


# --- running one input (in a worker process) ----------------------------------------------------


def _cli(*args: str) -> int:
    env = environment_from({**os.environ, "CI": "true"}, io.StringIO(), io.StringIO(), stdout_isatty=False,
                           stderr_isatty=False)
    status = main(list(args), env)
    env.stdout.getvalue().encode("utf-8"), env.stderr.getvalue().encode("utf-8")  # writable on a real pipe
    if status not in (0, 2, 3, 4):
        raise RuntimeError(f"triage {' '.join(args[:1])} exited {status}: {env.stderr.getvalue()[-300:]}")
    return status


def run_one(kind: str, text: str, workdir: str) -> str:
    """'ok' or 'refused'; raises on anything else (a crash)."""
    path = os.path.join(workdir, "input")
    with open(path, "w", encoding="utf-8", errors="surrogatepass") as fh:
        fh.write(text)
    try:
        if kind == "snapshot":
            Snapshot.from_json(text, path)
        elif kind == "config":
            parse_config(text, path)
        elif kind == "budget":
            parse_budget(text, path)
        else:
            validate_kubeconfig(path, None)
            for _, doc in read_kubeconfigs(path):
                kubeconfig_secrets(doc)
    except BadInput:
        return "refused"
    if kind == "snapshot":
        base = os.path.join(FIXTURES, SNAPSHOT_SEEDS[0])
        _cli("compare", base, path, "--format", "json")
        _cli("report", base, path, "--format", "markdown")
        _cli("report", base, path, "--format", "junit")
    return "ok"


def worker(conn: Any) -> None:
    workdir = tempfile.mkdtemp(prefix="triage-fuzz-")
    while True:
        job = conn.recv()
        if job is None:
            return
        kind, text = job
        started = time.perf_counter()
        try:
            outcome, detail = run_one(kind, text, workdir), ""
        except Exception as exc:  # noqa: BLE001 - a crash is what we count
            outcome = "crash"
            detail = f"{type(exc).__name__}: {str(exc)[:200]} at {traceback.extract_tb(exc.__traceback__)[-1][:3]}"
        conn.send((outcome, detail, time.perf_counter() - started))


class Worker:
    def __init__(self) -> None:
        self.conn, child = multiprocessing.Pipe()
        self.process = multiprocessing.Process(target=worker, args=(child,), daemon=True)
        self.process.start()

    def run(self, job: tuple[str, str], timeout: float) -> tuple[str, str, float] | None:
        """(outcome, detail, seconds), or None when it took longer than ``timeout`` (killed)."""
        self.conn.send(job)
        if self.conn.poll(timeout):
            return self.conn.recv()
        self.process.kill()
        self.process.join()
        return None


def campaign(inputs: list[tuple[str, str]], workers: int, timeout: float,
             progress: Callable[[int], None]) -> tuple[Counter, list[str], float, str]:
    """Each thread drives one worker process through the shared queue; a hang kills the
    worker and the thread starts a fresh one."""
    jobs: queue.Queue = queue.Queue()
    for job in inputs:
        jobs.put(job)
    results: list[tuple[str, tuple[str, str, float] | None]] = []
    lock = threading.Lock()

    def drive() -> None:
        w = Worker()
        while True:
            try:
                job = jobs.get_nowait()
            except queue.Empty:
                break
            result = w.run(job, timeout)
            if result is None:
                w = Worker()
            with lock:
                results.append((job[0], result))
                progress(len(results))
        w.conn.send(None)

    threads = [threading.Thread(target=drive) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts: Counter = Counter()
    crashes: list[str] = []
    slowest = (0.0, "")
    for kind, result in results:
        slowest = _tally(counts, crashes, slowest, kind, result, timeout)
    return counts, crashes, slowest[0], slowest[1]


def _tally(counts: Counter, crashes: list[str], slowest: tuple[float, str], kind: str,
           result: tuple[str, str, float] | None, timeout: float) -> tuple[float, str]:
    if result is None:
        counts[(kind, "hang")] += 1
        return (timeout, f"{kind} (hang)") if timeout > slowest[0] else slowest
    outcome, detail, seconds = result
    counts[(kind, outcome)] += 1
    if outcome == "crash" and len(crashes) < 10:
        crashes.append(f"{kind}: {detail}")
    return (seconds, kind) if seconds > slowest[0] else slowest


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=5.0, help="per-input bound in seconds")
    args = parser.parse_args()
    multiprocessing.set_start_method("fork")
    inputs = make_inputs(args.inputs, args.seed)
    started = time.perf_counter()
    counts, crashes, slowest, slowest_kind = campaign(
        inputs, args.workers, args.timeout,
        lambda n: print(f"  {n:,} / {len(inputs):,}", file=sys.stderr, end="\r") if n % 500 == 0 else None)
    wall = time.perf_counter() - started
    kinds = sorted({k for k, _ in counts})
    print(f"\n{len(inputs):,} inputs, seed {args.seed}, {args.workers} workers, {wall:.0f} s")
    print(f"{'kind':<11} {'inputs':>7} {'valid':>7} {'refused':>8} {'crashes':>8} {'hangs':>6}")
    for kind in kinds:
        row = [counts[(kind, o)] for o in ("ok", "refused", "crash", "hang")]
        print(f"{kind:<11} {sum(row):>7,} {row[0]:>7,} {row[1]:>8,} {row[2]:>8,} {row[3]:>6,}")
    print(f"crashes: {sum(v for (k, o), v in counts.items() if o == 'crash')}, "
          f"hangs (> {args.timeout:g} s): {sum(v for (k, o), v in counts.items() if o == 'hang')}, "
          f"slowest input: {slowest:.2f} s ({slowest_kind})")
    for line in crashes:
        print("  crash:", line)


if __name__ == "__main__":
    main_bench()
