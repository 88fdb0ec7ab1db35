"""The host's packages: what is installed, and the newest changelog entries of the kernel and
of every package the change mapping places in a layer (triage.changes).

One probe, ``kernel.packages`` (target ``local``): the host's own facts, recorded with the
kernel layer's; ``triage changes`` and the comparison's evidence then place each changed
package in its own layer (glibc in dns, postgresql in database). Facts, never a regression
by themselves:

- ``package_manager``: ``rpm`` or ``dpkg``;
- ``packages``: {name: version} of every installed package (one fact, so an upgrade that
  touches 200 packages is one changed row in a comparison, not 200);
- ``package_sources``: {name: source package} where they differ (glibc-common → glibc), so
  binary packages built together are reported together;
- ``changelogs``: {source package: [{version, text}, …]}, newest first, bounded as
  triage.probes.package_parsers says (MAX_ENTRIES × MAX_ENTRY_CHARS per package).

Sources: one process call for the list (``rpm -qa --qf …``, else ``dpkg-query -W -f …``),
one more on RPM hosts for every watched changelog at once (``rpm -q --qf …``), and on Debian
hosts the first bytes of each ``/usr/share/doc/<pkg>/changelog.Debian.gz``. Every call has a
timeout and a bound on what it reads. Commands are looked up in ``ctx.bin_path`` (else
$PATH): a host with neither is skipped with the reason.
"""

from __future__ import annotations

import gzip
import os
import secrets
import selectors
import shutil
import subprocess
import time
import zlib
from typing import Iterable, Iterator, Sequence

from triage.changes import watched_package
from triage.model import Measurement
from triage.probes import ProbeContext, ProbeSkipped, probe
from triage.probes.package_parsers import (DPKG_FORMAT, MAX_ENTRIES, RPM_QUERYFORMAT, Entry,
                                           Package, changelog_queryformat, parse_debian_changelog, parse_dpkg_list,
                                           parse_rpm_changelogs, parse_rpm_list, versions_by_name)

LIST_TIMEOUT_S = 20.0  # `rpm -qa` on a cold page cache of a 2,000-package host takes ~2 s
LIST_LIMIT_BYTES = 8 << 20  # ~100 bytes a package: 80,000 packages, far past any real host
CHANGELOG_LIMIT_BYTES = 64 << 20  # every watched RPM changelog in full: the kernel's is ~4 MB
DEBIAN_CHANGELOG_LIMIT_BYTES = 512 << 10  # decompressed: ~100 entries of even glibc's long ones
MAX_WATCHED = 64  # changelogs read per run; the built-in mapping watches ~15 on a RHEL node
_ENV = {"LC_ALL": "C"}  # changelog dates and messages in one stable format


class CommandFailed(RuntimeError):
    """A package manager that ran but failed: its exit status and first line of stderr."""


class BoundedCommand:
    """One process call whose output is read line by line as it comes: at most
    ``limit_bytes`` (then the process is killed, ``truncated`` is set and the partial last
    line is dropped), within ``timeout_s`` (TimeoutError). Leaving the loop early kills it."""

    def __init__(self, argv: Sequence[str], *, timeout_s: float, limit_bytes: int, env: dict[str, str]):
        self.argv = list(argv)
        self.timeout_s = timeout_s
        self.limit_bytes = limit_bytes
        self.env = env
        self.truncated = False

    def lines(self) -> Iterator[str]:
        deadline = time.monotonic() + self.timeout_s
        proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=self.env)
        assert proc.stdout is not None and proc.stderr is not None
        selector = selectors.DefaultSelector()
        selector.register(proc.stdout, selectors.EVENT_READ)
        selector.register(proc.stderr, selectors.EVENT_READ)
        stderr, pending, read, open_streams = b"", b"", 0, 2
        try:
            while open_streams:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self.argv[0]}: no end of output within {self.timeout_s:g}s")
                for key, _ in selector.select(left):
                    chunk = os.read(key.fd, 1 << 16)
                    if not chunk:
                        selector.unregister(key.fileobj)
                        open_streams -= 1
                    elif key.fileobj is proc.stderr:
                        stderr = (stderr + chunk)[:4096]  # enough for the first line of an error
                    else:
                        chunk = chunk[:self.limit_bytes - read]
                        read += len(chunk)
                        *complete, pending = (pending + chunk).split(b"\n")
                        for line in complete:
                            yield line.decode("utf-8", "replace")
                        if read >= self.limit_bytes:
                            self.truncated = True
                            return
            if pending:
                yield pending.decode("utf-8", "replace")
            if proc.wait(max(0.1, deadline - time.monotonic())) != 0 and read == 0:
                first = stderr.decode("utf-8", "replace").strip().splitlines()
                raise CommandFailed(f"{self.argv[0]} exited with status {proc.returncode}"
                                    + (f": {first[0][:200]}" if first else ""))
        finally:
            selector.close()
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stdout.close()
            proc.stderr.close()


def _env(ctx: ProbeContext) -> dict[str, str]:
    return {**_ENV, "PATH": _search_path(ctx)}


def _search_path(ctx: ProbeContext) -> str:
    return ctx.bin_path if ctx.bin_path is not None else os.environ.get("PATH", os.defpath)


def _timeout(ctx: ProbeContext, cap: float) -> float:
    return max(0.5, min(cap, ctx.remaining()))


# ---------------------------------------------------------------- rpm


def _list(argv: list[str], parse, ctx: ProbeContext) -> tuple[list[Package], bool]:
    """(packages, cut short by the output bound) of one listing call."""
    call = BoundedCommand(argv, timeout_s=_timeout(ctx, LIST_TIMEOUT_S), limit_bytes=LIST_LIMIT_BYTES, env=_env(ctx))
    return parse("\n".join(call.lines())), call.truncated


def _rpm_changelogs(rpm: str, wanted: dict[str, tuple[str, str]], ctx: ProbeContext) -> dict[str, list[Entry]]:
    """source → entries, one `rpm -q` for all of them. ``wanted``: source → (one of its binary
    names, the version whose changelog to keep: the running kernel's, when several are installed)."""
    if not wanted:
        return {}
    marker = f"::triage-{secrets.token_hex(8)}"
    names = sorted({binary for binary, _ in wanted.values()})
    call = BoundedCommand([rpm, "-q", "--qf", changelog_queryformat(marker), *names],
                          timeout_s=_timeout(ctx, LIST_TIMEOUT_S), limit_bytes=CHANGELOG_LIMIT_BYTES, env=_env(ctx))
    by_binary = {binary: (source, version) for source, (binary, version) in wanted.items()}
    out: dict[str, list[Entry]] = {}
    for name, version, entries in parse_rpm_changelogs(call.lines(), marker):
        source, keep = by_binary.get(name, (None, ""))
        if source is not None and (version == keep or source not in out):
            out[source] = entries
    if call.truncated:
        ctx.note(f"changelogs: output cut at {CHANGELOG_LIMIT_BYTES >> 20} MiB; later packages have none")
    return out


# ---------------------------------------------------------------- dpkg


def read_gzip_head(path: str, limit_bytes: int) -> str:
    """The first ``limit_bytes`` of a gzip file, decompressed (the newest entries come first)."""
    with gzip.open(path, "rb") as fh:
        return fh.read(limit_bytes).decode("utf-8", "replace")


def _debian_changelog(names: list[str], ctx: ProbeContext) -> list[Entry] | None:
    """The first changelog found in the doc directories of ``names``; None when there is none."""
    for name in names:
        for file_name in ("changelog.Debian.gz", "changelog.gz"):  # a native package has only the latter
            path = os.path.join(ctx.doc_root, name, file_name)
            try:
                entries = parse_debian_changelog(read_gzip_head(path, DEBIAN_CHANGELOG_LIMIT_BYTES).splitlines())
            except FileNotFoundError:
                continue
            except (OSError, EOFError, zlib.error) as exc:
                ctx.note(f"{path}: unreadable ({exc}); its changelog is left out")
                return []
            if entries:
                return entries
    return None


def _debian_changelogs(groups: dict[str, list[str]], ctx: ProbeContext) -> dict[str, list[Entry]]:
    """source → entries, from the first of its binaries' doc directories that has a changelog."""
    out: dict[str, list[Entry]] = {}
    missing = []
    for source, names in groups.items():
        entries = _debian_changelog(names, ctx)
        if entries is None:
            missing.append(source)
        elif entries:
            out[source] = entries
    if missing:
        # Container images often drop /usr/share/doc (dpkg path-exclude) to save space.
        ctx.note(f"no Debian changelog under {ctx.doc_root} for: {', '.join(missing[:10])}"
                 + (f" and {len(missing) - 10} more" if len(missing) > 10 else ""))
    return out


# ---------------------------------------------------------------- the probe


def watched(packages: Iterable[Package]) -> dict[str, list[str]]:
    """source → its installed binary names, for the sources with a binary (or the source
    itself) the built-in change mapping places in a layer; at most MAX_WATCHED."""
    groups: dict[str, list[str]] = {}
    for p in packages:
        groups.setdefault(p.source, [])
        if p.name not in groups[p.source]:
            groups[p.source].append(p.name)
    picked = {s: sorted(names) for s, names in sorted(groups.items())
              if watched_package(s) or any(watched_package(n) for n in names)}
    return dict(list(picked.items())[:MAX_WATCHED])


def _changelog_version(names: list[str], packages: list[Package], running: str) -> tuple[str, str]:
    """(binary, version) whose changelog stands for a source: the running kernel's build when
    several kernels are installed side by side, else any (they share one changelog)."""
    mine = [p for p in packages if p.name in names]
    for p in mine:
        if p.version and running.startswith(p.version.split(":")[-1]):
            return p.name, p.version
    return mine[0].name, mine[0].version


def package_measurements(manager: str, packages: list[Package], changelogs: dict[str, list[Entry]]) -> list[Measurement]:
    """The probe's facts from a parsed list and the changelogs read for it."""
    sources = {p.name: p.source for p in packages if p.source != p.name}
    return [Measurement.fact("package_manager", manager),
            Measurement.fact("packages", versions_by_name(packages)),
            Measurement.fact("package_sources", dict(sorted(sources.items()))),
            Measurement.fact("changelogs", {s: [e.to_dict() for e in entries[:MAX_ENTRIES]]
                                            for s, entries in sorted(changelogs.items())})]


@probe("kernel", "packages")
def packages(_target: None, ctx: ProbeContext) -> list[Measurement]:
    """Installed packages and the newest changelog entries of the watched ones."""
    path = _search_path(ctx)
    rpm, dpkg_query = shutil.which("rpm", path=path), shutil.which("dpkg-query", path=path)
    if rpm is None and dpkg_query is None:
        raise ProbeSkipped(f"no package manager: neither rpm nor dpkg-query is on the PATH ({path or '(empty)'})")
    listed: list[Package] = []
    manager, truncated = "", False
    # A Debian host may have rpm installed (with an empty database): the first that lists wins.
    for name, argv, parse in (("rpm", [rpm, "-qa", "--qf", RPM_QUERYFORMAT], parse_rpm_list),
                              ("dpkg", [dpkg_query, "-W", "-f", DPKG_FORMAT], parse_dpkg_list)):
        if argv[0] is not None:
            listed, truncated = _list(argv, parse, ctx)  # type: ignore[arg-type]
            manager = name
            if listed:
                break
    if not listed:
        raise RuntimeError(f"{manager} lists no installed packages")
    if truncated:
        ctx.note(f"packages: the list was cut at {LIST_LIMIT_BYTES >> 20} MiB of output")
    groups = watched(listed)
    if manager == "rpm":
        running = os.uname().release  # 4.18.0-147.13.2.el8_1.x86_64: the kernel package's version-release.arch
        wanted = {source: _changelog_version(names, listed, running) for source, names in groups.items()}
        changelogs = _rpm_changelogs(rpm, wanted, ctx)  # type: ignore[arg-type]
    else:
        changelogs = _debian_changelogs(groups, ctx)
    return package_measurements(manager, listed, changelogs)
