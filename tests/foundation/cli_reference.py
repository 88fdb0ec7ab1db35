"""docs/commands.md, the command reference, built from the Typer app itself: every command
with its help text, arguments and options. tests/foundation/test_docs.py checks the page is
current; `TRIAGE_UPDATE_GOLDEN=1 python -m pytest tests/foundation/test_docs.py` rewrites it."""

from __future__ import annotations

import inspect

import typer.main

from triage.cli import app

HEADER = """# Command reference

Every command, argument and option, as `triage COMMAND --help` prints them. Generated from the
CLI itself: after changing a command, `TRIAGE_UPDATE_GOLDEN=1 python -m pytest
tests/foundation/test_docs.py` rewrites this page (the docs test fails until then).

Every command exits 0 (fine), 2 (bad input, one line on stderr), 3 (regression) or 4
(inconclusive) as the [exit codes](reports.md#exit-codes) say; `--debug` (or `TRIAGE_DEBUG=1`)
shows a traceback instead of the one-line error.
"""


def walk(cmd, path=""):
    """(path, command) for every command and group below ``cmd``, depth first."""
    for name, sub in getattr(cmd, "commands", {}).items():
        full = f"{path} {name}".strip()
        yield full, sub
        yield from walk(sub, full)


def _arg_name(p) -> str:
    return (p.metavar or p.name or "").upper()


def _cell(text: str) -> str:
    return " ".join((text or "").split()).replace("|", "\\|")


def _usage(path: str, cmd) -> str:
    args = " ".join(_arg_name(p) if p.required else f"[{_arg_name(p)}]"
                    for p in cmd.params if p.param_type_name == "argument")
    sub = " COMMAND" if getattr(cmd, "commands", None) else ""
    return f"triage {path}{sub}" + (" [OPTIONS]" if any(p.param_type_name == "option" for p in cmd.params) else "") \
        + (f" {args}" if args else "")


def render() -> str:
    root = typer.main.get_command(app)
    out = [HEADER]
    root_options = [p for p in root.params if p.param_type_name == "option"]
    out += ["## `triage`", "", inspect.cleandoc(root.help or ""), "", "| option | |", "|---|---|"]
    out += [f"| `{', '.join(p.opts + p.secondary_opts)}` | {_cell(p.help)} |" for p in root_options]
    out.append("")
    for path, cmd in walk(root):
        out += [f"## `{_usage(path, cmd)}`", "", inspect.cleandoc(cmd.help or ""), ""]
        rows = []
        for p in cmd.params:
            if p.param_type_name == "argument":
                rows.append(f"| `{_arg_name(p)}` | {_cell(getattr(p, 'help', ''))} |")
            else:
                rows.append(f"| `{', '.join(p.opts + p.secondary_opts)}` | {_cell(p.help)} |")
        if rows:
            out += ["| argument or option | |", "|---|---|", *rows, ""]
        if getattr(cmd, "commands", None):
            out += ["Commands: " + ", ".join(f"`triage {path} {name}`" for name in cmd.commands), ""]
    return "\n".join(out).rstrip() + "\n"
