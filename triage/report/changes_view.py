"""`triage changes` in a terminal and as JSON. Every name, version and changelog line is the
packager's or the cluster's text: shown through ``inert.cell`` (control characters as escapes,
a rich ``Text``: no markup read from it). Markdown: triage.report.markdown.render_changes."""

from __future__ import annotations


from triage.changes import ENTRIES_SHOWN, ChangeSet

from . import RenderOptions, recording_console
from .inert import cell


def render_json(changes: ChangeSet, options: RenderOptions = RenderOptions()) -> str:
    return changes.to_json()


def render(changes: ChangeSet, options: RenderOptions = RenderOptions()) -> str:
    from rich.text import Text

    console = recording_console(options, 120)

    def say(text: Text | None = None) -> None:
        # One change or entry a line, never wrapped by rich: a terminal wraps it, a pipe keeps it greppable.
        console.print(text if text is not None else Text(), soft_wrap=True)
    say(cell(f"changes {changes.baseline} → {changes.candidate}", "bold"))
    if not changes.changes:
        say(cell(changes.nothing()))
    for layer in changes.layers():
        mine = changes.in_layer(layer)
        say()
        say(cell(f"{layer} ({len(mine)} change{'s' if len(mine) != 1 else ''})", "bold cyan"))
        for change in mine:
            say(cell("  " + change.summary()))
            if change.kind == "image":
                say(cell(f"      {change.old or 'absent'} → {change.new or 'absent'}", "dim"))
            for entry in change.entries[:ENTRIES_SHOWN]:
                style = "yellow" if entry.networking else "dim"
                say(cell(f"      {entry.version + ': ' if entry.version else ''}{entry.text}", style))
            if len(change.entries) > ENTRIES_SHOWN:
                say(Text(f"      … and {len(change.entries) - ENTRIES_SHOWN} more (--format json lists them)",
                                   style="dim"))
    for note in changes.notes:
        say(cell(f"note: {note}", "magenta"))
    return console.export_text(styles=options.color)
