"""The documentation: the README is a landing page under 12 KB that opens with the two set-up
commands (CI runs exactly the second); every page under docs/ is linked from it, every link
and anchor resolves; every command, argument and option has help text and is documented
(docs/commands.md is generated from the CLI and must be current); and every `triage ...`
command in a code block of any page names a real command and real options."""

import glob
import os
import re
import shlex

import typer.main

from tests.foundation import cli_reference
from triage.cli import app

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
README_LIMIT = 12 * 1024


def read(name):
    with open(os.path.join(ROOT, name), encoding="utf-8") as fh:
        return fh.read()


def pages():
    """Every documentation page, relative to the repository: the README and docs/*.md."""
    return ["README.md", *sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "*.md")))]


def command_paths():
    """Commands a user runs: groups that only hold subcommands are left out."""
    return sorted(path for path, cmd in cli_reference.walk(typer.main.get_command(app))
                  if not getattr(cmd, "commands", None))


def test_every_command_and_group_has_help_text():
    tree = list(cli_reference.walk(typer.main.get_command(app)))
    assert len(tree) >= 21  # 13 top-level, 5 baseline, repro, repro dns, repro dns serve, repro db
    missing = [path for path, cmd in tree if not (cmd.help or "").strip()]
    assert missing == []


def test_every_option_and_argument_has_help_text():
    root = typer.main.get_command(app)
    params = [("", p) for p in root.params] + [(path, p) for path, cmd in cli_reference.walk(root) for p in cmd.params]
    assert len(params) > 100
    missing = [f"triage {path} {p.opts[0] if p.opts else p.name}".replace("  ", " ")
               for path, p in params if not (getattr(p, "help", None) or "").strip()]
    assert missing == []


def test_readme_opens_with_the_two_setup_commands_and_ci_runs_the_second():
    blocks = re.findall(r"```bash\n(.*?)\n```", read("README.md"), re.S)
    install_demo, install_test = blocks[0].strip(), blocks[1].strip()
    assert install_demo == "python3 -m venv .venv && . .venv/bin/activate && pip install -e . && triage demo"
    assert install_test == ("python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' && "
                            "python -m pytest -q")
    assert install_test in read(".ci/run")
    assert read("README.md").index("```") == read("README.md").index("```bash\n" + install_demo)  # the first block


def test_readme_is_a_landing_page():
    size = len(read("README.md").encode("utf-8"))
    assert size < README_LIMIT, f"README.md is {size:,} bytes; move detail to docs/"
    readme = read("README.md")
    for step in ("triage init", "triage doctor", "triage probe", "triage baseline save", "triage compare",
                 "triage report", "triage gate"):
        assert step in readme
    assert "## Exit codes" in readme


def test_the_command_reference_is_current():
    """Regenerate after changing a command: TRIAGE_UPDATE_GOLDEN=1 pytest tests/foundation/test_docs.py"""
    path = os.path.join(ROOT, "docs", "commands.md")
    text = cli_reference.render()
    if os.environ.get("TRIAGE_UPDATE_GOLDEN"):
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    assert read("docs/commands.md") == text


def test_every_command_and_option_is_documented():
    """Every command is named in the prose (README or a topic page), and every option of every
    command on its reference page, with its help text."""
    prose = "\n".join(read(p) for p in pages() if p != os.path.join("docs", "commands.md"))
    missing = [p for p in command_paths() if f"triage {p}" not in prose]
    assert missing == []
    reference = read("docs/commands.md")
    root = typer.main.get_command(app)
    for path, cmd in cli_reference.walk(root):
        section = reference.split(f"## `triage {path}", 1)[1].split("\n## ", 1)[0]
        for p in cmd.params:
            if p.param_type_name == "option":
                assert f"`{', '.join(p.opts + p.secondary_opts)}`" in section, (path, p.opts)


# ---------------------------------------------------------------- links

_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def headings(text):
    """The headings of a page, outside code blocks."""
    out, fence = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fence = not fence
        elif not fence and (m := re.match(r"^#{1,6} (.*)$", line)):
            out.append(m.group(1))
    return out


def outside_code(text):
    return re.sub(r"```.*?```", "", text, flags=re.S)


def test_every_page_is_linked_from_the_readme_and_every_link_resolves():
    readme_links = {target.split("#")[0] for target in _LINK.findall(outside_code(read("README.md")))}
    unlinked = [p for p in pages()[1:] if p.replace(os.sep, "/") not in readme_links]
    assert unlinked == []
    broken = []
    for page in pages():
        for target in _LINK.findall(outside_code(read(page))):
            if re.match(r"^[a-z]+://", target):
                continue  # outside links are not fetched (no network in tests)
            file_part, _, anchor = target.partition("#")
            path = os.path.normpath(os.path.join(os.path.dirname(page), file_part)) if file_part else page
            if not os.path.exists(os.path.join(ROOT, path)):
                broken.append(f"{page}: {target}: no such file")
            elif anchor and path.endswith(".md") and anchor not in {slug(h) for h in headings(read(path))}:
                broken.append(f"{page}: {target}: no such heading")
    assert broken == []


# ---------------------------------------------------------------- commands in code blocks

_BLOCK = re.compile(r"```(bash|sh|console|shell)\n(.*?)\n```", re.S)


def _commands_in(text):
    """Each `triage ...` command in shell code blocks, as words (continuations joined; pipes,
    `&&`, `;`, comments and redirections cut)."""
    for _, body in _BLOCK.findall(text):
        for line in body.replace("\\\n", " ").splitlines():
            line = line.strip().removeprefix("$ ")
            for part in re.split(r"&&|\|\||;|\|", line.split(" #")[0]):
                part = part.strip()
                if part.startswith("triage ") or part == "triage":
                    try:
                        words = shlex.split(part)
                    except ValueError:
                        words = part.split()
                    yield [w for w in words if not w.startswith((">", "<", "2>"))]


def _resolve(words):
    """(command, the words after its path) for ``triage ...`` words."""
    cmd = typer.main.get_command(app)
    rest = words[1:]
    while rest and getattr(cmd, "commands", None) and rest[0] in cmd.commands:
        cmd, rest = cmd.commands[rest[0]], rest[1:]
    return cmd, rest


def wrong_commands(page, text):
    """(commands checked, what is wrong) in the shell code blocks of ``text``."""
    root = typer.main.get_command(app)
    root_options = {o for p in root.params for o in p.opts + p.secondary_opts} | {"--help", "-h"}
    checked, wrong = 0, []
    for words in _commands_in(text):
        cmd, rest = _resolve(words)
        if getattr(cmd, "commands", None) and rest and not rest[0].startswith("-"):
            wrong.append(f"{page}: {' '.join(words)}: no command {rest[0]!r}")
            continue
        known = root_options | {o for p in cmd.params for o in p.opts + p.secondary_opts}
        for word in rest:
            option = word.strip("[]").split("=", 1)[0]
            if option.startswith("-") and option not in ("-", "--") and option not in known:
                wrong.append(f"{page}: {' '.join(words)}: no option {option}")
        checked += 1
    return checked, wrong


def test_code_blocks_name_real_commands_and_options():
    checked, wrong = 0, []
    for page in pages():
        n, bad = wrong_commands(page, read(page))
        checked += n
        wrong += bad
    assert checked > 40  # the docs are full of examples: all of them run as written
    assert wrong == []


def test_the_code_block_check_sees_a_wrong_option_and_command():
    text = "```bash\ntriage compare a.json b.json --colour\ntriage baseline drop 4.3.18\n" \
           "triage report a b -o r.md && triage gate --baseline x --label y  # fine\n```\n"
    checked, wrong = wrong_commands("x.md", text)
    assert checked == 3
    assert wrong == ["x.md: triage compare a.json b.json --colour: no option --colour",
                     "x.md: triage baseline drop 4.3.18: no command 'drop'"]
