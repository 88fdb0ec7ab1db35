"""The `triage` command: thin Typer commands over the engine.

Each command parses options, checks what it can refuse, calls one engine function
(triage.engine) and hands the result to a renderer (cli/output.py); both are imported inside
the command, so `--help` never pays for them. main(argv, env) gives every command the
Environment (cli/env.py) as the Typer context object rather than through a module-level
holder: nothing global, so invocations in one process (the tests) never share streams.
Engine errors (TriageError) become one line on stderr and their exit status (a traceback
under --debug); anything else is a crash: Python's own traceback and exit 1.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from typing import Sequence

import typer

from triage import __version__
from triage.errors import ExitStatus, TriageError

from .env import DEBUG_ENV, Environment, current_environment, environment

# Each module defines `register(app)`; listed explicitly so `--help` imports only these.
COMMAND_MODULES = ("init", "doctor", "probe", "baseline", "compare", "changes", "history", "calibrate", "ab", "report",
                   "gate", "repro", "demo")

app = typer.Typer(
    name="triage",
    help="Which layer regressed after a platform upgrade? Probe kernel networking, DNS, Kubernetes, "
    "database and app layers; compare against stored baselines with honest statistics; name the root "
    "suspect.\n\nExit codes: 0 ok, 1 crash, 2 bad input, 3 regression, 4 inconclusive.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(ctx: typer.Context, value: bool) -> None:
    if value:
        environment(ctx).out(f"triage {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
    debug: bool = typer.Option(False, "--debug", help=f"Show a traceback on errors (also {DEBUG_ENV}=1)."),
) -> None:
    if debug:
        environment(ctx).debug = True


for _name in COMMAND_MODULES:
    importlib.import_module(f"triage.cli.{_name}").register(app)


# Typer vendors click in newer releases and depends on it in older ones: find the base class either way.
_CLICK_EXCEPTION = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def main(argv: Sequence[str] | None = None, env: Environment | None = None) -> int:
    """Run one invocation and return its status (the contract in DESIGN.md); the console
    script exits with it. ``env`` defaults to this process's streams and variables."""
    env = env or current_environment()
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        # Click writes help and usage errors to sys.stdout/sys.stderr itself: point them at env's streams.
        with contextlib.redirect_stdout(env.stdout), contextlib.redirect_stderr(env.stderr):
            status = app(args=args, standalone_mode=False, prog_name="triage", obj=env)
    except TriageError as exc:
        if env.debug:
            raise
        env.err(f"triage: error: {exc}")
        status = int(exc.exit_status)
    except (KeyboardInterrupt, typer.Abort):
        status = int(ExitStatus.INTERRUPTED)
    except _CLICK_EXCEPTION as exc:  # usage errors: exit 2
        exc.show(file=env.stderr)
        status = exc.exit_code
    status = int(status or 0)
    if status == ExitStatus.INTERRUPTED:
        # Typer turns Ctrl-C into a silent Exit(130): say what it left behind (every write is atomic).
        env.err("triage: interrupted; nothing was written")
    return status
