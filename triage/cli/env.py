"""What one invocation of `triage` writes to and how: streams, TTY flags, CI, NO_COLOR,
terminal width, a clock, and the places the process environment names ($GITHUB_STEP_SUMMARY).

`main(argv, env)` receives it (tests build one with StringIO streams and a forced TTY, as
httpie's tests build their MockEnvironment) and hands it to every command as the Typer
context object; `current_environment()` builds the real one, in a function, never at import.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, TextIO

import typer

STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"
DEBUG_ENV = "TRIAGE_DEBUG"


def _flag(value: str | None) -> bool:
    return (value or "").lower() not in ("", "0", "false", "no")


@dataclass
class Environment:
    stdout: TextIO
    stderr: TextIO
    stdout_isatty: bool = False
    stderr_isatty: bool = False
    ci: bool = False
    no_color: bool = False
    width: int | None = None  # columns to render for; None: each renderer's own default
    step_summary: str | None = None  # $GITHUB_STEP_SUMMARY: the file `triage gate` appends its report to
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    # The one field a run changes: --debug (or TRIAGE_DEBUG) says main shows tracebacks.
    debug: bool = False

    def watched(self, quiet: bool = False) -> bool:
        """A person is watching stderr: a terminal, not CI, not --quiet. Only then is progress drawn."""
        return self.stderr_isatty and not self.ci and not quiet

    @property
    def color(self) -> bool:
        return self.stdout_isatty and not self.no_color

    def err(self, message: str) -> None:
        print(message, file=self.stderr)

    def out(self, text: str) -> None:
        self.stdout.write(text if text.endswith("\n") else text + "\n")
        self.stdout.flush()


def _columns(value: str | None) -> int | None:
    """$COLUMNS as a width, when it is one (a shell exports it; `COLUMNS=100 triage demo` asks for it)."""
    return int(value) if value and value.isdigit() and int(value) > 0 else None


def environment_from(environ: Mapping[str, str], stdout: TextIO, stderr: TextIO, *, stdout_isatty: bool,
                     stderr_isatty: bool, width: int | None = None) -> Environment:
    """An Environment over these streams, its switches read from the variables ``environ``;
    the width is $COLUMNS, else ``width`` (the terminal's)."""
    return Environment(stdout=stdout, stderr=stderr, stdout_isatty=stdout_isatty, stderr_isatty=stderr_isatty,
                       ci=_flag(environ.get("CI")), no_color="NO_COLOR" in environ,
                       width=_columns(environ.get("COLUMNS")) or width,
                       step_summary=environ.get(STEP_SUMMARY_ENV) or None, debug=_flag(environ.get(DEBUG_ENV)))


def current_environment() -> Environment:
    """The environment of this process: sys streams, os.environ and the terminal's width."""
    width = None
    if sys.stdout.isatty():
        try:
            width = os.get_terminal_size(sys.stdout.fileno()).columns or None
        except OSError:
            pass
    return environment_from(os.environ, sys.stdout, sys.stderr, stdout_isatty=sys.stdout.isatty(),
                            stderr_isatty=sys.stderr.isatty(), width=width)


def environment(ctx: typer.Context) -> Environment:
    """The Environment main() handed to this invocation (the context object of every command)."""
    env = ctx.find_object(Environment)
    if env is None:
        raise RuntimeError("triage commands run through triage.cli.main(argv, env), which supplies the Environment")
    return env
