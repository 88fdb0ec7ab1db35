"""Run the `triage` CLI as a test: in-process through main(argv, env) with captured streams
(the default: fast, and a TTY can be forced), or as a fresh process for the few tests of the
real entry point. Both set CI=true, as the CI that runs the suite would."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any, Callable

import pytest

from triage.cli import main
from triage.cli.env import environment_from


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def returncode(self) -> int:  # the name subprocess.CompletedProcess gives it
        return self.code

    def json(self) -> Any:
        return json.loads(self.stdout)


class InProcessTriage:
    """``triage(*args, cwd=, env=, drop=, tty=, width=, clock=)``: `main(args, env)` in this
    process. ``env`` variables are set (and those starting with a prefix in ``drop`` removed)
    for the run only; the Environment reads its switches (CI, NO_COLOR, GITHUB_STEP_SUMMARY,
    TRIAGE_DEBUG) from them exactly as the real one does. ``tty`` forces both streams to
    count as terminals."""

    def __init__(self, cwd: str):
        self._cwd = cwd

    def __call__(self, *args: str, cwd: str | os.PathLike | None = None, env: dict[str, str] | None = None,
                 drop: tuple[str, ...] = (), tty: bool = False, width: int | None = None,
                 clock: Callable[[], float] | None = None) -> CliResult:
        with pytest.MonkeyPatch.context() as mp:
            mp.chdir(cwd or self._cwd)
            for name in [n for n in os.environ if drop and n.startswith(drop)]:
                mp.delenv(name)
            for name, value in {"CI": "true", **(env or {})}.items():
                mp.setenv(name, value)
            environment = environment_from(os.environ, io.StringIO(), io.StringIO(), stdout_isatty=tty,
                                           stderr_isatty=tty)
            environment = dataclasses.replace(environment, width=width or environment.width,
                                              **({"clock": clock} if clock is not None else {}))
            code = main(list(args), environment)
        return CliResult(code, environment.stdout.getvalue(), environment.stderr.getvalue())


def run_triage(*args: str, cwd=None, env: dict[str, str] | None = None, drop: tuple[str, ...] = (),
               timeout: float = 120) -> subprocess.CompletedProcess:
    """`python -m triage ARGS` in a fresh process with CI=true; ``env`` is added, variables
    starting with any prefix in ``drop`` (e.g. "PG", "KUBECONFIG") are removed."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(drop)} if drop else dict(os.environ)
    full_env["CI"] = "true"
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "triage", *args], capture_output=True, text=True, cwd=cwd,
                          env=full_env, timeout=timeout)
