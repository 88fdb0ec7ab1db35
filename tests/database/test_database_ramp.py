"""The database ramp against the session's real PostgreSQL: concurrent-client steps (closed
loop) running the critical query, what they record, and no password anywhere in it."""

from __future__ import annotations

from triage.config import parse_config
from triage.runner import RunOptions, run_probes

from .pg_server import CRITICAL_QUERY, PASSWORD


def test_client_steps_run_the_critical_query_and_record_capacity_in_clients(postgres):
    config = parse_config(f"""
targets:
  - name: registry-db
    dsn: "{postgres.dsn()}"
    queries:
      - {{name: image-layer-fetch, sql: "{CRITICAL_QUERY}"}}
load:
  step_duration: 0.4
  groups: 2
  database: {{clients: [1, 2, 4], slo_ms: 10000}}
""", "t.yaml")
    # specs=[]: the ramps alone, as the demo's load round runs them
    snap = run_probes(config, RunOptions(layers=("database",), label="t", load=True), specs=[])
    [ramp] = snap.results
    assert (ramp.layer, ramp.probe, ramp.target, ramp.status) == ("database", "ramp", "registry-db/image-layer-fetch",
                                                                 "ok"), (ramp.error, ramp.notes)
    names = [m.metric for m in ramp.measurements]
    assert names == ["latency@1clients", "errors@1clients", "latency@2clients", "errors@2clients",
                     "latency@4clients", "errors@4clients", "capacity"]
    errors = [m for m in ramp.measurements if m.metric.startswith("errors@")]
    assert all(m.trials > 0 and m.events == 0 for m in errors), [(m.events, m.trials) for m in errors]
    latency = ramp.measurements[0]
    assert latency.groups is not None and sum(latency.groups) == len(latency.values) == errors[0].trials
    capacity = ramp.measurements[-1]
    assert (capacity.unit, capacity.better, capacity.value) == ("clients", "higher", 4.0)
    assert capacity.extra["capacity"]["bound"] == "at least"  # every step held: the server's limit is above
    info = ramp.extra["ramp"]
    assert info["closed"] is True and all(step["achieved"] > 0 for step in info["steps"])  # queries per second
    assert PASSWORD not in snap.to_json()
