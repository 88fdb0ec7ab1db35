"""Issue 16, item 6: hostile YAML in triage.yaml, budgets and kubeconfigs is refused fast, with
exit 2 and file:line, by the one bounded loader (triage.yamlfile) every YAML input goes through."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_runner import run_triage
from tests.kubernetes import kube_states as ks
from triage.budget import parse_budget
from triage.config import KubernetesConfig, parse_config
from triage.errors import InputFileError
from triage.kube_client import KubeConfigError, client_for, validate_kubeconfig


def bomb(levels: int = 6, width: int = 10) -> str:
    """A billion-laughs document: each level lists the previous one ``width`` times, so it
    expands to width**levels nodes (10**6 here) from about 300 bytes."""
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels + 1):
        lines.append(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


HOSTILE = {
    "alias bomb": (bomb(), "an alias bomb", None),
    "recursive alias": ("samples: &a [*a]\n", "recursive alias", 1),
    "recursive mapping": ("top:\n  inner: &a {again: *a}\n", "recursive alias", 2),
    "1,000 deep": ("samples: " + "[" * 1000 + "]" * 1000 + "\n", "nest", 1),
    "5,000-digit integer": ("samples: " + "9" * 5000 + "\n", "more than 100 digits", 1),
    "impossible timestamp": ("samples: !!timestamp 2020-99-99\n", "not valid YAML", None),
    "too many values": ("x: [" + "1, " * 60_000 + "1]\n", "more than 50,000 values", 1),
}


def _loaders(tmp_path: Path):
    def kubeconfig(text: str, name: str) -> None:
        path = tmp_path / name
        path.write_text(text)
        validate_kubeconfig(str(path), None)
    return {"triage.yaml": parse_config, "budget": parse_budget, "kubeconfig": kubeconfig}


@pytest.mark.parametrize("case", sorted(HOSTILE))
@pytest.mark.parametrize("loader", ["triage.yaml", "budget", "kubeconfig"])
def test_hostile_yaml_is_refused_with_the_line(tmp_path, case, loader):
    text, expected, line = HOSTILE[case]
    with pytest.raises(InputFileError) as err:
        _loaders(tmp_path)[loader](text, "hostile.yaml")
    message = str(err.value)
    assert expected in message, message
    assert (f"hostile.yaml:{line}: " if line else "hostile.yaml: ") in message
    assert "\n" not in message


def test_the_size_of_a_yaml_file_is_bounded(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text("x: '" + "a" * (5 * 1024 * 1024) + "'\n")
    done = run_triage("probe", "--config", str(path), "--out", "x.json", cwd=tmp_path)
    assert done.returncode == 2 and "larger than 4 MiB" in done.stderr


@pytest.mark.parametrize("args", [("probe", "--config", "{f}", "--out", "x.json"),
                                  ("compare", "a.json", "a.json", "--budget", "{f}"),
                                  ("probe", "--layers", "kubernetes", "--kubeconfig", "{f}", "--out", "x.json")])
def test_an_alias_bomb_through_the_cli_is_one_line_and_exit_2(tmp_path, args):
    (tmp_path / "bomb.yaml").write_text(bomb())
    (tmp_path / "a.json").write_text('{"schema": "triage.snapshot/v1", "label": "a", "taken_at": "t", '
                                     '"host": "h", "tool_version": "0", "results": []}')
    done = run_triage(*(a.format(f="bomb.yaml") for a in args), cwd=tmp_path, timeout=60,
                      env={"HOME": str(tmp_path)}, drop=("KUBECONFIG",))
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("triage: error: bomb.yaml") and done.stderr.count("\n") == 1, done.stderr
    assert "alias bomb" in done.stderr


def test_a_kubeconfig_named_in_triage_yaml_is_read_through_the_bounded_loader(tmp_path):
    (tmp_path / "kc").write_text(bomb())
    with pytest.raises(KubeConfigError) as err:
        client_for(KubernetesConfig(kubeconfig=str(tmp_path / "kc"), enabled=True))
    assert "alias bomb" in str(err.value) and str(tmp_path / "kc") in str(err.value)


def test_anchors_used_as_people_use_them_still_load(tmp_path):
    config = parse_config("targets:\n"
                          "  - &reg {name: a, url: 'http://127.0.0.1:1/x', headers: &h {X-Team: quay}}\n"
                          "  - {name: b, url: 'http://127.0.0.1:1/y', headers: *h}\n", "triage.yaml")
    assert [t.headers for t in config.targets] == [{"X-Team": "quay"}] * 2
    # As written by PyYAML-based tools when one object appears twice (&id001 / *id001).
    path = ks.write_kubeconfig(tmp_path / "kc", "http://127.0.0.1:1")
    text = path.read_text().replace("  user:\n", "  user: &id001\n", 1)
    path.write_text(text + "extra: *id001\n")
    validate_kubeconfig(str(path), "staging")


@pytest.mark.parametrize("key, value", [("url", "http://[::1/x"), ("dsn", "postgresql://quay@[::1/quay"),
                                        ("dsn", "postgresql://quay:pw@db:99999/quay")])
def test_urls_python_cannot_split_are_refused_with_the_field(key, value):
    """Found by bench/fuzz.py: urlsplit raises ValueError on these (exit 1 before)."""
    with pytest.raises(InputFileError) as err:
        parse_config(f"targets:\n  - name: a\n    {key}: \"{value}\"\n", "triage.yaml")
    assert str(err.value).startswith(f"triage.yaml:3: targets[0].{key}: expected")
