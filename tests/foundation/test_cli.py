"""The real console entry point, run as a user would (a subprocess), checking exit codes."""

import json

import git
import pytest

from triage.cli import app
from tests.cli_runner import run_triage


def triage(*args, cwd=None, env=None):
    return run_triage(*args, cwd=cwd, env=env)

def test_help_lists_the_commands():
    out = triage("--help")
    assert out.returncode == 0
    assert "probe" in out.stdout and "baseline" in out.stdout
    assert triage("--version").stdout.strip() == "triage 0.1.0"


def test_every_command_has_help_text():
    import typer.main

    group = typer.main.get_command(app)

    def walk(cmd, path):
        for name, sub in getattr(cmd, "commands", {}).items():
            yield f"{path} {name}".strip(), sub
            yield from walk(sub, f"{path} {name}")

    missing = [name for name, cmd in walk(group, "") if not (cmd.help or "").strip()]
    assert missing == []


def test_probe_kernel_writes_snapshot_v1(tmp_path):
    out = triage("probe", "--layers", "kernel", "--label", "t1", "--out", "s.json", "--quiet", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "" and out.stderr == ""
    data = json.loads((tmp_path / "s.json").read_text())
    assert data["schema"] == "triage.snapshot/v1" and data["label"] == "t1"
    kernel = [r for r in data["results"] if r["layer"] == "kernel"]
    samples = [m for r in kernel for m in r["measurements"] if m["kind"] == "samples"]
    others = [m for r in kernel for m in r["measurements"] if m["kind"] in ("gauge", "fact", "proportion")]
    assert max(len(m["values"]) for m in samples) >= 20
    assert len(others) >= 10


def test_format_json_prints_only_the_snapshot(tmp_path):
    out = triage("probe", "--layers", "kernel", "--samples", "5", "--format", "json", cwd=tmp_path)
    assert out.returncode == 0
    assert json.loads(out.stdout)["schema"] == "triage.snapshot/v1"


@pytest.mark.parametrize("args, needle", [
    (["probe", "--layers", "kernel,dsn"], "unknown layer dsn"),
    (["probe", "--format", "xml"], "--format: expected table or json"),
    (["probe", "--config", "nope.yaml"], "nope.yaml: no such config file"),
])
def test_bad_arguments_exit_2_with_one_line(tmp_path, args, needle):
    out = triage(*args, cwd=tmp_path)
    assert out.returncode == 2
    assert needle in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_bad_port_in_config_exits_2_with_file_and_line(tmp_path):
    (tmp_path / "triage.yaml").write_text("targets:\n  - name: db\n    host: db.example\n    port: abc\n")
    out = triage("probe", "--layers", "kernel", cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip() == "triage: error: triage.yaml:4: targets[0].port: expected an integer 1-65535, got 'abc'"


def test_baseline_save_list_and_refusal(tmp_path):
    assert triage("probe", "--layers", "kernel", "--samples", "20", "--label", "t1", "--out", "s.json", "-q",
                  cwd=tmp_path).returncode == 0
    for _ in range(2):
        assert triage("baseline", "save", "t1", "s.json", "--store", "D", cwd=tmp_path).returncode == 0
    listing = triage("baseline", "list", "--store", "D", cwd=tmp_path)
    assert listing.stdout.startswith("t1\t2 runs\t")
    assert len(list(git.Repo(tmp_path / "D").iter_commits())) == 2
    (tmp_path / "cut.json").write_text((tmp_path / "s.json").read_text()[:200])
    bad = triage("baseline", "save", "t1", "cut.json", "--store", "D", cwd=tmp_path)
    assert bad.returncode == 2 and "cut.json" in bad.stderr
    assert len(list(git.Repo(tmp_path / "D").iter_commits())) == 2
    unknown = triage("baseline", "show", "t9", cwd=tmp_path, env={"TRIAGE_STORE": str(tmp_path / "D")})
    assert unknown.returncode == 2 and "known labels: t1" in unknown.stderr


def test_unknown_command_is_a_usage_error_not_a_crash():
    out = triage("frobnicate")
    assert out.returncode == 2
    assert "No such command" in out.stderr
