"""Ctrl-C in the middle of a probe run: exit 130, the existing --out file untouched, no temp files."""

import os
import signal
import subprocess
import sys
import time

from triage.repro.dns_server import EmbeddedDnsServer


def test_ctrl_c_leaves_the_previous_snapshot_intact(tmp_path):
    out = tmp_path / "run.json"
    out.write_text("the previous run\n")
    with EmbeddedDnsServer("delay=20ms", names=("db.quay.svc",)) as server:
        (tmp_path / "t.yaml").write_text(f"samples: 5000\ndns:\n  resolvers: ['127.0.0.1:{server.port}']\n"
                                         "  names: [db.quay.svc]\n")
        proc = subprocess.Popen([sys.executable, "-m", "triage", "probe", "--layers", "dns", "--config", "t.yaml",
                                 "--out", "run.json"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env={**os.environ, "CI": "true"})
        # Wait for the condition "the probe is mid-run" (queries arriving), not for a fixed time.
        give_up = time.monotonic() + 60
        while server.stats()["queries"] < 10 and time.monotonic() < give_up and proc.poll() is None:
            time.sleep(0.01)
        assert server.stats()["queries"] >= 10
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted; nothing was written" in stderr, (stdout[-500:], stderr)
    assert out.read_text() == "the previous run\n"
    assert sorted(os.listdir(tmp_path)) == ["run.json", "t.yaml"]
