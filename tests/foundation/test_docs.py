"""Every command, subcommand, option and argument has help text and every command is in the
README; CI runs exactly the README's test command."""

import os
import re

import typer.main

from triage.cli import app

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def read(name):
    with open(os.path.join(ROOT, name), encoding="utf-8") as fh:
        return fh.read()


def walk(cmd, path=""):
    """(path, command) for every command and group below ``cmd``, depth first."""
    for name, sub in getattr(cmd, "commands", {}).items():
        full = f"{path} {name}".strip()
        yield full, sub
        yield from walk(sub, full)


def command_paths():
    """Commands a user runs: groups that only hold subcommands are left out."""
    return sorted(path for path, cmd in walk(typer.main.get_command(app)) if not getattr(cmd, "commands", None))


def test_every_command_and_group_has_help_text():
    tree = list(walk(typer.main.get_command(app)))
    assert len(tree) >= 13  # 8 top-level, 5 baseline, repro, repro dns, repro dns serve
    missing = [path for path, cmd in tree if not (cmd.help or "").strip()]
    assert missing == []


def test_every_option_and_argument_has_help_text():
    root = typer.main.get_command(app)
    params = [("", p) for p in root.params] + [(path, p) for path, cmd in walk(root) for p in cmd.params]
    assert len(params) > 60
    missing = [f"triage {path} {p.opts[0] if p.opts else p.name}".replace("  ", " ")
               for path, p in params if not (getattr(p, "help", None) or "").strip()]
    assert missing == []


def test_every_command_appears_in_the_readme():
    readme = read("README.md")
    missing = [p for p in command_paths() if f"triage {p}" not in readme]
    assert missing == []
    assert {"probe", "compare", "report", "gate", "demo", "baseline save", "repro dns serve"} <= set(command_paths())


def test_readme_opens_with_the_two_setup_commands_and_ci_runs_the_second():
    blocks = re.findall(r"```bash\n(.*?)\n```", read("README.md"), re.S)
    install_demo, install_test = blocks[0].strip(), blocks[1].strip()
    assert install_demo.endswith("triage demo")
    assert "pytest" in install_test
    assert install_test in read(".ci/run")
