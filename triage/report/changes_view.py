"""`triage changes` in a terminal and as JSON. Every name, version and changelog line is the
packager's or the cluster's text: shown through ``printable`` (control characters as escapes)
and rich ``Text`` (no markup read from it). Markdown: triage.report.markdown.render_changes."""

from __future__ import annotations

import io

from triage.changes import ENTRIES_SHOWN, ChangeSet
from triage.formatting import printable

from . import RenderOptions


def render_json(changes: ChangeSet, options: RenderOptions = RenderOptions()) -> str:
    return changes.to_json()


def render(changes: ChangeSet, options: RenderOptions = RenderOptions()) -> str:
    from rich.console import Console
    from rich.text import Text

    console = Console(record=True, width=options.width or 120, no_color=not options.color,
                      force_terminal=options.color, color_system="standard" if options.color else None,
                      file=io.StringIO(), highlight=False)

    def say(text: Text | None = None) -> None:
        # One change or entry a line, never wrapped by rich: a terminal wraps it, a pipe keeps it greppable.
        console.print(text if text is not None else Text(), soft_wrap=True)
    say(Text(printable(f"changes {changes.baseline} → {changes.candidate}"), style="bold"))
    if not changes.changes:
        say(Text(printable(changes.nothing())))
    for layer in changes.layers():
        mine = changes.in_layer(layer)
        say()
        say(Text(printable(f"{layer} ({len(mine)} change{'s' if len(mine) != 1 else ''})"),
                           style="bold cyan"))
        for change in mine:
            say(Text("  " + printable(change.summary())))
            if change.kind == "image":
                say(Text(printable(f"      {change.old or 'absent'} → {change.new or 'absent'}"), style="dim"))
            for entry in change.entries[:ENTRIES_SHOWN]:
                style = "yellow" if entry.networking else "dim"
                say(Text(printable(f"      {entry.version + ': ' if entry.version else ''}{entry.text}"), style=style))
            if len(change.entries) > ENTRIES_SHOWN:
                say(Text(f"      … and {len(change.entries) - ENTRIES_SHOWN} more (--format json lists them)",
                                   style="dim"))
    for note in changes.notes:
        say(Text(printable(f"note: {note}"), style="magenta"))
    return console.export_text(styles=options.color)
