"""End to end: `triage probe --layers dns` against the embedded server, through the CLI (in-process)."""

from __future__ import annotations

import json
import os

from dns_helpers import fixture_root

from tests.cli_runner import InProcessTriage


def test_probe_dns_layer_writes_samples_per_name_resolver_and_qtype(tmp_path, dns_server):
    srv = dns_server("delay=5ms", names=("quay-db.quay.svc", "redis.quay.svc"))
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"""
samples: 12
targets:
  - name: cache
    host: redis.quay.svc
    port: 6379
  - name: local-app
    url: http://127.0.0.1:8080/health
dns:
  resolvers: ["127.0.0.1:{srv.port}"]
  names: [quay-db.quay.svc]
  timeout: 2
""")
    out = tmp_path / "s.json"
    env = {"TRIAGE_RESOLV_CONF": os.path.join(fixture_root("openshift-4.3-pod"), "resolv.conf")}
    proc = InProcessTriage(str(tmp_path))("probe", "--layers", "dns", "--config", str(cfg), "--out", str(out),
                                          "--quiet", env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""

    snap = json.loads(out.read_text())
    assert {r["layer"] for r in snap["results"]} == {"dns"}
    results = {(r["probe"], r["target"]): r for r in snap["results"]}
    resolver = f"127.0.0.1:{srv.port}"
    for name in ("quay-db.quay.svc", "redis.quay.svc"):
        r = results[("resolve", f"{name}@{resolver}")]
        assert r["status"] == "ok", r
        m = {x["metric"]: x for x in r["measurements"]}
        for qtype in ("A", "AAAA"):
            assert len(m[f"latency_{qtype}"]["values"]) == 12
            assert (m[f"timeouts_{qtype}"]["events"], m[f"timeouts_{qtype}"]["trials"]) == (0, 12)
        assert m["resolver"]["value"] == resolver
    stats = srv.stats()
    assert stats["queries"] == stats["delayed"] == 2 * 2 * 12  # names x qtypes x samples, every one delayed

    assert results[("getaddrinfo", "local")]["status"] == "skipped"  # no "system" resolver configured
    facts = {x["metric"]: x["value"] for x in results[("expansion", "resolv.conf")]["measurements"]}
    assert facts["nameservers"] == ["172.30.0.10"] and facts["ndots"] == 5
    cost = {x["metric"]: x["value"] for x in results[("expansion", "quay-db.quay.svc")]["measurements"]}
    assert cost == {"queries_worst": 10, "queries_found": 10}
    assert ("expansion", "127.0.0.1") not in results  # IP literals are not DNS names
