"""Issue 16, items 2, 3 and 9: text from outside reaches no output live. A snapshot pair with
hostile text in every field (targets, probes, metrics, units, errors, notes, facts, labels,
hosts, unknown fields) is stored, shown, compared and reported in every format: the table
(piped, NO_COLOR, and coloured on a TTY) holds no raw control character and no markup rich
acted on; the Markdown parses into the same document as with plain names and renders to HTML
with nothing live; the JUnit parses; the JSON is valid, ASCII, and re-renders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_runner import InProcessTriage
from triage.report import inert

from .helpers import inproc
from .hostile import (check_json, check_junit, check_markdown, check_terminal, hostile, hostile_snapshots, plain)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "compare"


def _pair(tmp_path: Path, name_of, tag: str) -> tuple[str, str]:
    base, cand = hostile_snapshots(name_of, json.loads((FIXTURES / "baseline-4.3.18.json").read_text()),
                                   json.loads((FIXTURES / "candidate-dns-app.json").read_text()))
    paths = []
    for side, snap in (("base", base), ("cand", cand)):
        path = tmp_path / f"{tag}-{side}.json"
        path.write_text(json.dumps(snap), encoding="utf-8")
        paths.append(str(path))
    return paths[0], paths[1]


@pytest.fixture
def pairs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return _pair(tmp_path, hostile, "hostile"), _pair(tmp_path, plain, "plain")


def test_the_snapshot_table_shows_hostile_text_inert_piped_no_color_and_coloured(pairs, tmp_path):
    (base, cand), _ = pairs
    status, out, err = inproc("baseline", "save", "before", cand, "--store", "S")
    assert status == 0, err  # a probe named [/x] is stored ...
    for env, color in (({}, False), ({"NO_COLOR": "1"}, False)):
        done = _triage(tmp_path, "baseline", "show", "before", "--store", "S", env=env, width=2000)
        assert done.code == 0, done.stderr  # ... and shown, not a MarkupError
        check_terminal(done.stdout + done.stderr, f"baseline show {env}", color=color)
        assert "[link=https://evil.example]click[/link]" in done.stdout  # literal text, not a hyperlink
        assert all(inert.terminal(text) in done.stdout for text in _texts(cand))
    coloured = _triage(tmp_path, "baseline", "show", "before", "--store", "S", tty=True, width=2000)
    assert coloured.code == 0 and "\x1b[" in coloured.stdout  # it is coloured ...
    check_terminal(coloured.stdout, "baseline show on a TTY", color=True)  # ... and nothing else
    assert "[link=https://evil.example]" in coloured.stdout
    shown = _triage(tmp_path, "baseline", "show", "before", "--store", "S", "--format", "json")
    assert _texts(check_json(shown.stdout, "baseline show json")[0]) == _texts(cand)  # data kept exactly


def test_compare_table_and_stderr_hold_no_raw_control_characters(pairs, tmp_path):
    (base, cand), _ = pairs
    for tty in (False, True):
        done = _triage(tmp_path, "compare", base, cand, "--all", tty=tty, width=2000)
        assert done.code == 3, done.stderr
        check_terminal(done.stdout + done.stderr, f"compare table tty={tty}", color=tty)
        assert "[/x]" in done.stdout
    missing = _triage(tmp_path, "compare", base, "no\x1b]52;c;eA==\x07such.json")
    assert missing.code == 2
    check_terminal(missing.stderr, "an error line naming a hostile path")


@pytest.mark.parametrize("brief", [True, False], ids=["compare --format markdown", "report"])
def test_markdown_is_the_same_document_with_hostile_names_and_renders_inert(pairs, tmp_path, brief):
    (base, cand), (plain_base, plain_cand) = pairs
    args = ("compare", "--format", "markdown", "--all") if brief else ("report", "--all")
    done = _triage(tmp_path, *args[:1], base, cand, *args[1:])
    plain_done = _triage(tmp_path, *args[:1], plain_base, plain_cand, *args[1:])
    assert done.code == plain_done.code == 3, done.stderr
    if not brief:
        assert "```mermaid" in done.stdout and "## Probe failures" in done.stdout and "## Changed facts" in done.stdout
        assert "## What changed" in done.stdout
    check_markdown(done.stdout, plain_done.stdout, " ".join(args))


def test_triage_changes_shows_hostile_package_text_inert(pairs, tmp_path):
    (base, cand), (plain_base, plain_cand) = pairs
    table = _triage(tmp_path, "changes", base, cand, width=2000)
    assert table.code == 0, table.stderr
    check_terminal(table.stdout + table.stderr, "changes table")
    (package,) = (name for r in _snapshot(cand)["results"] if r["probe"] == "packages"
                  for m in r["measurements"] if m["metric"] == "packages" for name in m["value"] if name != "glibc")
    assert inert.terminal(package) in table.stdout  # shown, as its escapes
    md = _triage(tmp_path, "changes", base, cand, "--format", "markdown")
    check_markdown(md.stdout, _triage(tmp_path, "changes", plain_base, plain_cand, "--format", "markdown").stdout,
                   "changes --format markdown")
    check_json(_triage(tmp_path, "changes", base, cand, "--format", "json").stdout, "changes json")


def test_chart_images_of_hostile_text_are_drawn_inert(pairs, tmp_path):
    (base, cand), _ = pairs
    done = _triage(tmp_path, "report", base, cand, "--charts-dir", "charts", "-o", "r.md")
    assert done.code == 3, done.stderr  # a target named $$ is no mathtext: no ValueError from savefig
    svgs = sorted((tmp_path / "charts").glob("*.svg"))
    assert svgs and len(list((tmp_path / "charts").glob("*.png"))) == len(svgs)
    for svg in svgs:
        check_junit(svg.read_text(encoding="utf-8"), svg.name)  # well-formed XML, no raw control character


def test_junit_of_hostile_text_is_well_formed_xml(pairs, tmp_path):
    (base, cand), _ = pairs
    done = _triage(tmp_path, "report", base, cand, "--format", "junit")
    assert done.code == 3, done.stderr
    suite = check_junit(done.stdout, "junit")
    cases = suite.findall("testcase")
    assert int(suite.get("failures")) == sum(1 for c in cases if c.find("failure") is not None) >= 1
    names = " ".join(c.get("name") for c in cases)
    assert all(inert.xml(target) in names for target in _targets(cand))


def test_json_of_hostile_text_is_valid_ascii_and_renders_again(pairs, tmp_path):
    (base, cand), (plain_base, plain_cand) = pairs
    done = _triage(tmp_path, "compare", base, cand, "--format", "json")
    assert done.code == 3
    data = check_json(done.stdout, "compare json")
    assert _targets(cand) <= {m["target"] for m in data["metrics"]}  # data kept exactly
    (tmp_path / "cmp.json").write_text(done.stdout)
    plain_json = _triage(tmp_path, "compare", plain_base, plain_cand, "--format", "json").stdout
    (tmp_path / "plain.json").write_text(plain_json)
    for fmt, check in (("markdown", None), ("junit", check_junit), ("json", check_json)):
        again = _triage(tmp_path, "report", "cmp.json", "--format", fmt)
        assert again.code == 3, again.stderr  # the exit code follows the saved verdict
        if check is None:
            check_markdown(again.stdout, _triage(tmp_path, "report", "plain.json").stdout, "report cmp.json")
        else:
            check(again.stdout, f"report cmp.json --format {fmt}")


# ---------------------------------------------------------------- the step itself


def test_terminal_shows_every_control_character_as_its_escape():
    assert inert.terminal("a\x1b[2J\rb\x9b\u202ec\x00") == "a\\x1b[2J\\x0db\\x9b\\u202ec\\x00"
    assert inert.terminal("plain · text → ok") == "plain · text → ok"
    assert inert.terminal("x" * 5000).endswith("… (3,000 more characters)")


def test_a_rich_cell_is_never_markup():
    text = inert.cell("[link=https://evil.example]x[/link][/x]", "red")
    assert text.plain == "[link=https://evil.example]x[/link][/x]" and not text.spans


@pytest.mark.parametrize("text, shown", [
    ("- item", "\\- item"), ("1. item", "1\\. item"), ("# h", "\\# h"), ("a|b", "a\\|b"),
    ("<b>&</b>", "&lt;b&gt;&amp;&lt;/b&gt;"), ("a\rb", "a\\\\x0db"), ("`x`", "\\`x\\`"),
    (" 27", "&#32;27"), ("  - x", "&#32;&#32;\\- x"), ("hard break  ", "hard break&#32;&#32;"),
])
def test_markdown_escapes(text, shown):
    assert inert.markdown(text) == shown


def test_a_package_named_with_a_leading_space_keeps_its_changelog_nested():
    from markdown_it import MarkdownIt

    doc = f"- {inert.markdown(' glibc')} 1 → 2\n  - 2: {inert.markdown('entry')}\n"
    kinds = [t.type for t in MarkdownIt("commonmark").parse(doc)]
    assert kinds.count("bullet_list_open") == 2 and kinds.index("bullet_list_open", 1) < kinds.index("list_item_close")
    assert MarkdownIt("commonmark").render(doc).startswith("<ul>\n<li> glibc 1 → 2")


def test_a_code_block_fence_outlasts_every_backtick_run_inside():
    assert inert.code_block(["echo ````", "ls"], "bash") == ["`````bash", "echo ````", "ls", "`````"]
    assert inert.code_block(["ls"]) == ["```", "ls", "```"]


def test_mermaid_keeps_only_inert_characters():
    assert inert.mermaid('ms"\n```\n<img src=x>## [a]') == "ms_______img src=x___ _a_"


def _snapshot(path: str) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _texts(snapshot: str | dict) -> set[str]:
    """The probe, target and metric names of a snapshot (a path or the parsed JSON)."""
    data = _snapshot(snapshot) if isinstance(snapshot, str) else snapshot
    return {t for r in data["results"] for t in (r["probe"], r["target"], *(m["metric"] for m in r["measurements"]))}


def _targets(path: str) -> set[str]:
    return {r["target"] for r in _snapshot(path)["results"] if r["status"] == "ok" and r["measurements"]}


def _triage(tmp_path, *args, **kw):
    done = InProcessTriage(str(tmp_path))(*args, **kw)
    done.stdout.encode("utf-8"), done.stderr.encode("utf-8")
    return done


def test_a_reproducers_progress_bar_shows_a_hostile_profile_inert():
    """The bar's description is outside text (a --profile): escapes shown, never markup or a live OSC."""
    import io

    from triage.cli.env import environment_from
    from triage.cli.progress import RichReproProgress

    stderr = io.StringIO()
    progress = RichReproProgress(environment_from({}, io.StringIO(), stderr, stdout_isatty=False,
                                                  stderr_isatty=True, width=200))
    progress.side_started(0, 2, "delay=3ms\x1b]52;c;ZXZpbA==\x07[/bold][link=x]", 5.0)
    progress._bar.refresh()
    progress.side_done()
    shown = stderr.getvalue()
    assert "side 1/2 delay=3ms\\x1b]52;c;ZXZpbA==\\x07[/bold][link=x]" in shown
    assert "\x1b]52" not in shown and "\x07" not in shown
