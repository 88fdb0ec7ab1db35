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


def check_writable(path: str, option: str) -> None:
    """Before any work: BadInput naming ``option`` when ``path`` could not be written later
    (its directory is missing or not writable, or it is a directory itself)."""
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise BadInput(f"{option} {path}: is a directory, expected a file to write")
    if not os.path.isdir(directory):
        raise BadInput(f"{option} {path}: cannot write: no such directory {directory}")
    if not os.access(directory, os.W_OK):
        raise BadInput(f"{option} {path}: cannot write: directory {directory} is not writable")


def atomic_append_text(path: str, text: str) -> None:
    """``text`` after what ``path`` holds (nothing if it is missing), written atomically:
    an interrupted append leaves the file as it was."""
    try:
        with open(path, encoding="utf-8") as fh:
            before = fh.read()
    except FileNotFoundError:
        before = ""
    atomic_write_text(path, before + text)


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
