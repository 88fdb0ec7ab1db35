"""Files the user names: atomic writes (a reader sees the old file or the new one, never half
of either) and bounded reads.

Writing to a user-named path (``--out``, ``--report``, ``--junit``, the store's own files):

- a regular file is replaced atomically (a temp file beside it, fsync, rename) and keeps its
  mode (0644 stays 0644; ``mkstemp`` alone would make it 0600); as root, its owner too;
- a new file gets the mode the umask gives (0666 & ~umask), as ``>`` in a shell would;
- a symlink is followed: the file it points at is replaced, the link stays a link;
- a character device or a FIFO is written through, not replaced: ``--out /dev/stdout``,
  ``/dev/null`` or a pipe (``>(jq .)``) mean "write there", and renaming over ``/dev/null``
  as root would destroy it. There is no atomicity to keep on a stream. A FIFO nobody reads
  is refused rather than waited on;
- anything else that is not a regular file (a directory, a socket, a block device) is refused.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from typing import Callable

from .errors import BadInput, InputFileError

TEMP_PREFIX, TEMP_SUFFIX = ".triage-", ".tmp"  # the store cleans up orphans by this pattern


def atomic_write_text(path: str, text: str | bytes, before_replace: Callable[[], None] | None = None) -> None:
    """Write ``text`` (or bytes: a chart's PNG) to ``path`` by the rules above. ``before_replace``
    runs once the temp file is complete and synced, just before the rename (the store's kill
    tests pause there)."""
    try:
        st = os.stat(path)  # follows a symlink: what matters is what the link points at
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise BadInput(f"{path}: cannot write: {exc.strerror}") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        if stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
            _write_through(path, text, fifo=stat.S_ISFIFO(st.st_mode))
            return
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise BadInput(f"{path}: is {kind}; refusing to write over it")
    target = os.path.realpath(path)  # a symlink is kept: the file behind it is replaced
    try:
        fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=os.path.dirname(target))
    except OSError as exc:
        raise BadInput(f"{path}: cannot write: {exc.strerror}") from None
    try:
        os.fchmod(fd, stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~_umask())
        if st is not None and os.geteuid() == 0:
            os.fchown(fd, st.st_uid, st.st_gid)
        with (os.fdopen(fd, "wb") if isinstance(text, bytes) else os.fdopen(fd, "w", encoding="utf-8")) as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if before_replace is not None:
            before_replace()
        os.replace(tmp, target)
    except BaseException:
        # Ctrl-C or a full disk mid-write: drop the temp file, leave the old one untouched.
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_create_text(path: str, text: str, option: str = "") -> None:
    """Write ``text`` to a new file ``path``: whole or not at all, and never over a file, even
    one that appeared since the caller looked (the complete temp file is hard-linked into
    place, which fails when the name is taken). Exists already: BadInput naming ``option``."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=directory)
    except OSError as exc:
        raise BadInput(f"{path}: cannot write: {exc.strerror}") from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.link(tmp, path)
    except FileExistsError:
        raise BadInput(f"{path} exists; refusing to overwrite it{f' ({option} replaces it)' if option else ''}") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot write: {exc.strerror}") from None
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _write_through(path: str, text: str | bytes, fifo: bool) -> None:
    flags = os.O_WRONLY | (os.O_NONBLOCK if fifo else 0)  # non-blocking open: no reader is ENXIO, not a hang
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise BadInput(f"{path}: a FIFO that nobody reads; refusing to wait for a reader") from None
        raise BadInput(f"{path}: cannot write: {exc.strerror}") from None
    try:
        if fifo:
            os.set_blocking(fd, True)
        with (os.fdopen(fd, "wb", closefd=False) if isinstance(text, bytes)
              else os.fdopen(fd, "w", encoding="utf-8", closefd=False)) as fh:
            fh.write(text)
    except OSError as exc:
        raise BadInput(f"{path}: cannot write: {exc.strerror}") from None
    finally:
        os.close(fd)


def _umask() -> int:
    """The process umask, read without changing it (os.umask sets it: a race with threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_writable(path: str, option: str) -> None:
    """Before any work: BadInput naming ``option`` when ``path`` could not be written later
    (its directory is missing or not writable, or it is a directory itself). A device or FIFO
    is written through (see above): it needs to be writable itself, not its directory; a
    symlink's target is what gets replaced, so its directory is the one checked."""
    if os.path.isdir(path):
        raise BadInput(f"{option} {path}: is a directory, expected a file to write")
    try:
        mode = os.stat(path).st_mode
    except OSError:
        mode = 0
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        if not os.access(path, os.W_OK):
            raise BadInput(f"{option} {path}: cannot write: permission denied")
        return
    directory = os.path.dirname(os.path.realpath(path))
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


# The largest input file any command reads: a snapshot of several million samples (1M take
# ~10-20 MB as JSON). YAML inputs have their own, smaller bound (yamlfile.MAX_YAML_BYTES).
MAX_INPUT_BYTES = 64 * 1024 * 1024


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
