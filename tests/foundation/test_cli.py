"""The CLI's contract: exit codes, one-line errors, what goes to stdout and stderr.

Most tests run `main(argv, env)` in-process (the `triage` fixture, tests/cli_runner.py); the
few that are about the real entry point start the console script or `python -m triage`.
"""

import json
import os
import subprocess
import sys

import git
import pytest

from tests.cli_runner import run_triage

CONSOLE_SCRIPT = os.path.join(os.path.dirname(sys.executable), "triage")


def test_the_console_script_prints_help_and_version():
    assert os.path.exists(CONSOLE_SCRIPT), "pip install -e . puts the triage script beside python"
    out = subprocess.run([CONSOLE_SCRIPT, "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert "probe" in out.stdout and "baseline" in out.stdout
    version = subprocess.run([CONSOLE_SCRIPT, "--version"], capture_output=True, text=True, timeout=60)
    assert (version.returncode, version.stdout.strip()) == (0, "triage 0.1.0")


def test_exit_codes_of_the_real_process(tmp_path):
    usage = run_triage("frobnicate")
    assert usage.returncode == 2 and "No such command" in usage.stderr
    bad = run_triage("compare", "nope.json", "nope2.json", cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr == "triage: error: nope.json: no such snapshot JSON file\n"
    debug = run_triage("--debug", "compare", "nope.json", "nope2.json", cwd=tmp_path)
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "InputFileError" in debug.stderr


def test_a_crash_is_exit_1_with_the_traceback_never_a_verdict(tmp_path):
    # An engine bug, injected where the console script would meet it: main() must not turn it into 0, 2, 3 or 4.
    crash = ("import sys, triage.engine as engine\n"
             "def broken(*args, **kwargs): raise ZeroDivisionError('an engine bug')\n"
             "engine.compare = broken\n"
             "from triage.cli import main\n"
             "sys.exit(main())\n")
    out = subprocess.run([sys.executable, "-c", crash, "compare", "a.json", "b.json"], capture_output=True,
                         text=True, cwd=tmp_path, timeout=60, env={**os.environ, "CI": "true"})
    assert out.returncode == 1
    assert out.stdout == ""
    assert "Traceback" in out.stderr and "ZeroDivisionError: an engine bug" in out.stderr
    assert "triage: error" not in out.stderr


def test_version_goes_to_the_environment_stdout(triage):
    out = triage("--version")
    assert (out.code, out.stdout, out.stderr) == (0, "triage 0.1.0\n", "")


def test_probe_kernel_writes_snapshot_v1(triage, tmp_path):
    out = triage("probe", "--layers", "kernel", "--label", "t1", "--out", "s.json", "--quiet")
    assert out.code == 0, out.stderr
    assert out.stdout == "" and out.stderr == ""
    data = json.loads((tmp_path / "s.json").read_text())
    assert data["schema"] == "triage.snapshot/v1" and data["label"] == "t1"
    kernel = [r for r in data["results"] if r["layer"] == "kernel"]
    samples = [m for r in kernel for m in r["measurements"] if m["kind"] == "samples"]
    others = [m for r in kernel for m in r["measurements"] if m["kind"] in ("gauge", "fact", "proportion")]
    assert max(len(m["values"]) for m in samples) >= 20
    assert len(others) >= 10


def test_format_json_prints_only_the_snapshot(triage):
    out = triage("probe", "--layers", "kernel", "--samples", "5", "--format", "json")
    assert out.code == 0
    assert json.loads(out.stdout)["schema"] == "triage.snapshot/v1"


def test_progress_only_when_a_person_watches(triage):
    args = ("probe", "--layers", "kernel", "--samples", "5", "--out", "s.json")
    watched = triage(*args, tty=True, env={"CI": "false"})
    assert watched.code == 0
    assert "probing" in watched.stderr and "triage: wrote s.json" in watched.stderr
    for unwatched in (triage(*args, tty=True), triage(*args, env={"CI": "false"}),
                      triage(*args, "--quiet", tty=True, env={"CI": "false"})):
        assert unwatched.code == 0
        assert "probing" not in unwatched.stderr


def test_colour_on_a_terminal_unless_no_color(triage):
    args = ("probe", "--layers", "kernel", "--samples", "5")
    assert "\x1b[" in triage(*args, tty=True).stdout
    plain = triage(*args, tty=True, env={"NO_COLOR": "1"})
    assert plain.code == 0 and "kernel" in plain.stdout and "\x1b[" not in plain.stdout
    assert "\x1b[" not in triage(*args).stdout


@pytest.mark.parametrize("args, needle", [
    (["probe", "--layers", "kernel,dsn"], "unknown layer dsn"),
    (["probe", "--format", "xml"], "--format: expected table or json"),
    (["probe", "--config", "nope.yaml"], "nope.yaml: no such config file"),
    (["probe", "--layers", "kernel", "--out", "no/such/dir/s.json"], "--out no/such/dir/s.json: cannot write: no such directory"),
])
def test_bad_arguments_exit_2_with_one_line(triage, args, needle):
    out = triage(*args)
    assert out.code == 2
    assert needle in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_bad_port_in_config_exits_2_with_file_and_line(triage, tmp_path):
    (tmp_path / "triage.yaml").write_text("targets:\n  - name: db\n    host: db.example\n    port: abc\n")
    out = triage("probe", "--layers", "kernel")
    assert out.code == 2
    assert out.stderr.strip() == "triage: error: triage.yaml:4: targets[0].port: expected an integer 1-65535, got 'abc'"


def test_baseline_save_list_and_refusal(triage, tmp_path):
    assert triage("probe", "--layers", "kernel", "--samples", "20", "--label", "t1", "--out", "s.json", "-q").code == 0
    for _ in range(2):
        assert triage("baseline", "save", "t1", "s.json", "--store", "D").code == 0
    listing = triage("baseline", "list", "--store", "D")
    assert listing.stdout.startswith("t1\t2 runs\t")
    assert len(list(git.Repo(tmp_path / "D").iter_commits())) == 2
    (tmp_path / "cut.json").write_text((tmp_path / "s.json").read_text()[:200])
    bad = triage("baseline", "save", "t1", "cut.json", "--store", "D")
    assert bad.code == 2 and "cut.json" in bad.stderr
    assert len(list(git.Repo(tmp_path / "D").iter_commits())) == 2
    unknown = triage("baseline", "show", "t9", env={"TRIAGE_STORE": str(tmp_path / "D")})
    assert unknown.code == 2 and "known labels: t1" in unknown.stderr


def test_unknown_command_is_a_usage_error_not_a_crash(triage):
    out = triage("frobnicate")
    assert out.code == 2
    assert "No such command" in out.stderr
