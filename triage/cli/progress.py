"""Rich progress for the runner, drawn on env.stderr only when a person watches (Environment.watched)."""

from __future__ import annotations

from triage.model import ProbeResult
from triage.report.inert import cell, terminal
from triage.runner import Progress, SilentProgress

from .env import Environment


def _stderr_console(env: Environment):
    from rich.console import Console

    # Built only for a watched stderr, so it is a terminal: say so (a test's forced TTY is a StringIO).
    return Console(file=env.stderr, no_color=env.no_color, force_terminal=True, width=env.width)


class RichProgress:
    def __init__(self, env: Environment, title: str = "probing"):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress as _Progress, TextColumn, TimeElapsedColumn

        self._console = _stderr_console(env)
        # Descriptions name targets (outside text): shown as text, never read as markup.
        self._bar = _Progress(TextColumn(title, style="bold"), TextColumn("{task.description}", markup=False),
                              BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=self._console,
                              transient=True)
        self._task = None

    def start(self, total: int) -> None:
        self._bar.start()
        self._task = self._bar.add_task("", total=total)

    def step(self, description: str) -> None:
        self._bar.update(self._task, description=terminal(description))

    def done(self, result: ProbeResult) -> None:
        self._bar.advance(self._task)
        if result.status == "error":
            line = cell(f" {result.layer}.{result.probe} [{result.target}]: {result.error}")
            self._console.print(cell("!", "yellow") + line, highlight=False)

    def finish(self) -> None:
        self._bar.stop()


def progress_for(env: Environment, quiet: bool = False, title: str = "probing") -> Progress:
    return RichProgress(env, title) if env.watched(quiet) else SilentProgress()


class RichReproProgress:
    """A reproducer's bar per side, seconds of --duration elapsed; only on a terminal."""

    def __init__(self, env: Environment):
        from rich.progress import BarColumn, Progress as _Progress, TextColumn, TimeElapsedColumn

        # A profile is outside text (a --profile, a profile file's name): shown, never markup.
        self._bar = _Progress(TextColumn("{task.description}", markup=False), BarColumn(), TimeElapsedColumn(),
                              console=_stderr_console(env), transient=True)
        self._task = None

    def side_started(self, index: int, total: int, profile: str, duration_s: float) -> None:
        self._bar.start()
        self._task = self._bar.add_task(terminal(f"side {index + 1}/{total} {profile}"), total=duration_s)

    def tick(self, elapsed_s: float) -> None:
        if self._task is not None:
            self._bar.update(self._task, completed=elapsed_s)

    def side_done(self) -> None:
        if self._task is not None:
            self._bar.remove_task(self._task)
            self._task = None
        self._bar.stop()
