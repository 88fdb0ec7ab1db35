"""Run the real `triage` CLI in a fresh process, as a user or CI would."""

from __future__ import annotations

import os
import subprocess
import sys


def run_triage(*args: str, cwd=None, env: dict[str, str] | None = None, drop: tuple[str, ...] = (),
               timeout: float = 120) -> subprocess.CompletedProcess:
    """`python -m triage ARGS` with CI=true; ``env`` is added, variables starting with any
    prefix in ``drop`` (e.g. "PG", "KUBECONFIG") are removed."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(drop)} if drop else dict(os.environ)
    full_env["CI"] = "true"
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "triage", *args], capture_output=True, text=True, cwd=cwd,
                          env=full_env, timeout=timeout)
