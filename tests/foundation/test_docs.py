"""Every command is documented, and CI runs exactly the README's test command."""

import os
import re

import typer.main

from triage.cli import app

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def read(name):
    with open(os.path.join(ROOT, name), encoding="utf-8") as fh:
        return fh.read()


def command_paths():
    def walk(cmd, path):
        for name, sub in getattr(cmd, "commands", {}).items():
            full = f"{path} {name}".strip()
            if not getattr(sub, "commands", None):
                yield full
            yield from walk(sub, full)
    return sorted(walk(typer.main.get_command(app), ""))


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
