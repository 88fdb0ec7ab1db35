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


MAX_INPUT_BYTES = 64 * 1024 * 1024  # see model.MAX_SNAPSHOT_BYTES: the largest input we read


def read_input(path: str, what: str, max_bytes: int = MAX_INPUT_BYTES) -> str:
    """The text of an input file, or InputFileError naming it: ``what`` says what was
    expected there ("config", "snapshot JSON", ...). At most ``max_bytes`` characters are read,
    so ``--config /dev/zero`` is refused instead of read forever."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise InputFileError(path, f"no such {what} file") from None
    except IsADirectoryError:
        raise InputFileError(path, f"is a directory, expected a {what} file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(path, f"cannot read {what} file: {exc}") from None
    if len(text) > max_bytes:
        raise InputFileError(path, f"larger than {_size(max_bytes)}, the limit for a {what} file")
    return text


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n >= 1024 * 1024 else f"{n:,} bytes"
