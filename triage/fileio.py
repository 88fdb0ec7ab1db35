"""Atomic file writes: a reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import os
import tempfile

from .errors import BadInput, InputFileError


def atomic_write_text(path: str, text: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".triage-", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise BadInput(f"{path}: cannot write: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        # Ctrl-C or a full disk mid-write: drop the temp file, leave the old one untouched.
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def read_input(path: str, what: str) -> str:
    """The text of an input file, or InputFileError naming it: ``what`` says what was
    expected there ("config", "snapshot JSON", ...)."""
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except FileNotFoundError:
        raise InputFileError(path, f"no such {what} file") from None
    except IsADirectoryError:
        raise InputFileError(path, f"is a directory, expected a {what} file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(path, f"cannot read {what} file: {exc}") from None
