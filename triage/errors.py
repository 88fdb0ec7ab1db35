"""Exit codes (the contract in DESIGN.md) and the engine's typed errors.

The engine raises these; only the CLI turns them into an exit status and one line on stderr.
"""

from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    OK = 0
    CRASH = 1  # Python's own code for an uncaught error; never returned on purpose
    BAD_INPUT = 2
    REGRESSION = 3
    INCONCLUSIVE = 4
    INTERRUPTED = 130


class TriageError(Exception):
    """An error the user can act on; the message is one line."""

    exit_status = ExitStatus.BAD_INPUT


class BadInput(TriageError):
    """Bad config, snapshot, budget or argument: exit 2."""


class InputFileError(BadInput):
    """A file that failed validation: names the file, the field and what was expected."""

    def __init__(self, path: str, reason: str, *, line: int | None = None, field: str | None = None):
        self.path = str(path)
        self.line = line
        self.field = field
        self.reason = reason
        where = self.path if line is None else f"{self.path}:{line}"
        super().__init__(f"{where}: {field}: {reason}" if field else f"{where}: {reason}")


class StoreError(BadInput):
    """A baseline store problem: unknown label, corrupt or foreign file, lock held."""
