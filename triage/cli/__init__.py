"""The `triage` command: thin Typer commands over the engine.

Each command parses options, calls one engine function and hands the result to a renderer.
Engine errors (TriageError) become one line on stderr and their exit status; anything else
is a crash (exit 1) with a traceback only under --debug.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer

from triage import __version__
from triage.errors import ExitStatus, TriageError

# Each module defines `register(app)`; listed explicitly so `--help` imports only these.
COMMAND_MODULES = ("probe", "baseline", "compare", "ab", "report", "gate", "repro", "demo")

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


def _version(value: bool) -> None:
    if value:
        print(f"triage {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
    debug: bool = typer.Option(False, "--debug", envvar="TRIAGE_DEBUG", help="Show a traceback on errors."),
) -> None:
    if debug:
        os.environ["TRIAGE_DEBUG"] = "1"


for _name in COMMAND_MODULES:
    importlib.import_module(f"triage.cli.{_name}").register(app)


# Typer vendors click in newer releases and depends on it in older ones: find the base class either way.
_CLICK_EXCEPTION = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns (and exits with) the status of the contract."""
    try:
        status = app(args=argv, standalone_mode=False, prog_name="triage")
    except TriageError as exc:
        if os.environ.get("TRIAGE_DEBUG"):
            raise
        print(f"triage: error: {exc}", file=sys.stderr)
        status = int(exc.exit_status)
    except (KeyboardInterrupt, typer.Abort):
        status = int(ExitStatus.INTERRUPTED)
    except _CLICK_EXCEPTION as exc:  # usage errors: exit 2
        exc.show()
        status = exc.exit_code
    status = int(status or 0)
    if status == ExitStatus.INTERRUPTED:
        # Typer turns Ctrl-C into a silent Exit(130): say what it left behind (every write is atomic).
        print("triage: interrupted; nothing was written", file=sys.stderr)
    sys.exit(status)
