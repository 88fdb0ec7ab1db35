"""Streams, TTY flags and quiet/colour switches in one object, so tests can capture output
and force a TTY without patching (as httpie's Environment). Built in a function, never at import."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import TextIO


@dataclass
class Environment:
    stdout: TextIO
    stderr: TextIO
    stdout_isatty: bool
    stderr_isatty: bool
    ci: bool
    no_color: bool
    quiet: bool = False

    @property
    def show_progress(self) -> bool:
        """Progress only for a person at a terminal: not in CI, not with --quiet, not piped."""
        return self.stderr_isatty and not self.ci and not self.quiet

    @property
    def color(self) -> bool:
        return self.stdout_isatty and not self.no_color

    def err(self, message: str) -> None:
        print(message, file=self.stderr)

    def out(self, text: str) -> None:
        self.stdout.write(text if text.endswith("\n") else text + "\n")
        self.stdout.flush()


def current_environment(quiet: bool = False) -> Environment:
    ci = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")
    return Environment(stdout=sys.stdout, stderr=sys.stderr,
                       stdout_isatty=sys.stdout.isatty(), stderr_isatty=sys.stderr.isatty(),
                       ci=ci, no_color="NO_COLOR" in os.environ, quiet=quiet)
