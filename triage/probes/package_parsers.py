"""Pure parsers of what a host's package manager says: the installed packages and their
changelogs, for the packages probe (triage/probes/packages.py). No process calls and no
files here, so recorded captures (tests/fixtures/kernel/packages/) replay through the same code.

Formats read:
- the package list of ``rpm -qa --qf RPM_QUERYFORMAT`` and of ``dpkg-query -W -f DPKG_FORMAT``
  (plain ``dpkg-query -W``, name and version, reads too);
- RPM changelogs as ``rpm -q --changelog`` prints them (``* Thu Apr 30 2020 Name <mail>
  [4.18.0-147.13.2.el8_1]`` or ``... - 2.28-127``, then ``- `` items), several packages in one
  output each after a marker line (CHANGELOG_QUERYFORMAT), so one process call reads them all;
- Debian changelogs (``glibc (2.36-9+deb12u14) bookworm; urgency=medium``, ``  * `` items and
  their ``    - `` sub-items, `` -- Name <mail>  date``).

The bounds (one home, README "Packages probe"): a package name or version over
MAX_NAME_CHARS is cut; at most MAX_ENTRIES changelog entries per package are kept, newest
first, each at most MAX_ENTRY_CHARS characters (cut with "…"): ~30 KB per package at worst.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Iterator

MAX_ENTRIES = 100  # newest changelog entries kept per package: a z-stream kernel brings 10–100
MAX_ENTRY_CHARS = 300  # one entry's text; RHEL kernel lines are ~80–160 characters
MAX_NAME_CHARS = 200  # a package name or version longer than this is not a real one: cut

# %{EPOCHNUM} is 0 without an epoch; SOURCERPM groups binary packages of one build
# (glibc, glibc-common, glibc-langpack-en), which share one changelog.
RPM_QUERYFORMAT = r"%{NAME}\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\t%{ARCH}\t%{SOURCERPM}\n"
DPKG_FORMAT = r"${binary:Package}\t${Version}\t${source:Package}\t${db:Status-Abbrev}\n"
# `rpm -q --changelog` is an alias of this queryformat (rpmpopt); the marker line before each
# package lets one call print many. The marker carries a per-run nonce: changelog text is the
# packager's, and must not be able to start another package's section.
CHANGELOG_BODY = r"[* %{CHANGELOGTIME:day} %{CHANGELOGNAME}\n%{CHANGELOGTEXT}\n\n]"


def changelog_queryformat(marker: str) -> str:
    return marker + r" %{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}\n" + CHANGELOG_BODY


@dataclass(frozen=True)
class Package:
    name: str
    version: str  # [epoch:]version-release (rpm), the Debian version (dpkg)
    source: str  # the source package it was built from; the name itself when unknown


@dataclass(frozen=True)
class Entry:
    """One changelog item: the release it came with and its text (one line, bounded)."""

    version: str
    text: str

    def to_dict(self) -> dict[str, str]:
        return {"version": self.version, "text": self.text}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def rpm_version(epoch_version: str) -> str:
    """``0:2.28-127.el8`` → ``2.28-127.el8`` (epoch 0 is no epoch); ``1:1.1.1g-15`` stays."""
    epoch, sep, rest = epoch_version.partition(":")
    return rest if sep and epoch in ("0", "(none)", "") else epoch_version


def _source_of_rpm(source_rpm: str, name: str) -> str:
    """``glibc-2.28-127.el8.src.rpm`` → ``glibc``; ``(none)`` (gpg-pubkey) → the name."""
    if not source_rpm.endswith(".rpm") or source_rpm.count("-") < 2:
        return name
    return source_rpm.rsplit("-", 2)[0]


def parse_rpm_list(text: str) -> list[Package]:
    """Lines of RPM_QUERYFORMAT. Multilib (glibc.i686 beside glibc.x86_64) is one name."""
    out = []
    for line in text.splitlines():
        cols = line.split("\t")
        if len(cols) < 2 or not cols[0]:
            continue
        name = _cut(cols[0], MAX_NAME_CHARS)
        source = _source_of_rpm(cols[3], name) if len(cols) > 3 else name
        out.append(Package(name, _cut(rpm_version(cols[1]), MAX_NAME_CHARS), _cut(source, MAX_NAME_CHARS)))
    return out


def parse_dpkg_list(text: str) -> list[Package]:
    """Lines of DPKG_FORMAT (or plain ``dpkg-query -W``). Only installed packages (status
    ``ii``, ``hi``: a removed package keeps its version while its config files stay); the
    ``:amd64`` of a multi-arch name is dropped."""
    out = []
    for line in text.splitlines():
        cols = line.split("\t")
        if len(cols) < 2 or not cols[0] or not cols[1]:
            continue  # `dpkg-query -W` lists known but uninstalled packages with no version
        if len(cols) > 3 and cols[3][1:2] != "i":
            continue
        name = _cut(cols[0].split(":", 1)[0], MAX_NAME_CHARS)
        source = cols[2].split(" ", 1)[0] if len(cols) > 2 and cols[2] else name
        out.append(Package(name, _cut(cols[1], MAX_NAME_CHARS), _cut(source, MAX_NAME_CHARS)))
    return out


def versions_by_name(packages: Iterable[Package]) -> dict[str, str]:
    """name → version; a name installed in several versions (kernels are installed side by
    side) lists them sorted, joined with ", "."""
    seen: dict[str, set[str]] = {}
    for p in packages:
        seen.setdefault(p.name, set()).add(p.version)
    return {name: ", ".join(sorted(vs)) for name, vs in sorted(seen.items())}


# ---------------------------------------------------------------- changelogs

_RPM_HEADER = re.compile(r"^\* (?:\w{3} ){2}[ \d]?\d \d{4} (?P<who>.*)$")
_BRACKETED = re.compile(r"\[(?P<version>[^\[\]\s]+)\]\s*$")
_DASHED = re.compile(r"(?:^|\s)-\s+(?P<version>\S+)\s*$")
_AFTER_MAIL = re.compile(r">\s*(?P<version>[^\s<>]*\d[^\s<>]*)\s*$")
_BULLET = re.compile(r"^\s*[-*+]\s+")


def _rpm_header_version(who: str) -> str:
    """The release a changelog header names: ``... [4.18.0-147.13.2.el8_1]``, ``... - 2.28-127``,
    ``... <mail> 1.2-3``; "" when it names none."""
    for pattern in (_BRACKETED, _DASHED, _AFTER_MAIL):
        m = pattern.search(who)
        if m:
            return m["version"]
    return ""


class _Entries:
    """Entries of one package as they are read: items joined with their continuation lines,
    at most MAX_ENTRIES kept, each cut to MAX_ENTRY_CHARS."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self.version = ""
        self._parts: list[str] | None = None
        self.dropped = 0

    def release(self, version: str) -> None:
        self.flush()
        self.version = version

    def item(self, text: str) -> None:
        self.flush()
        self._parts = [text.strip()]

    def more(self, text: str) -> None:
        if self._parts is not None and text.strip():
            self._parts.append(text.strip())

    def flush(self) -> None:
        if self._parts is None:
            return
        text = " ".join(p for p in self._parts if p)
        self._parts = None
        if not text:
            return
        if len(self.entries) < MAX_ENTRIES:
            self.entries.append(Entry(_cut(self.version, MAX_NAME_CHARS), _cut(text, MAX_ENTRY_CHARS)))
        else:
            self.dropped += 1


def parse_rpm_changelog(lines: Iterable[str]) -> list[Entry]:
    """One package's ``rpm -q --changelog``: its newest MAX_ENTRIES items."""
    acc = _Entries()
    _feed_rpm(acc, lines)
    acc.flush()
    return acc.entries


def _feed_rpm(acc: _Entries, lines: Iterable[str]) -> None:
    for line in lines:
        line = line.rstrip("\n")
        header = _RPM_HEADER.match(line)
        if header:
            acc.release(_rpm_header_version(header["who"]))
        elif line.startswith("-"):
            acc.item(line[1:])
        else:
            acc.more(line)


def parse_rpm_changelogs(lines: Iterable[str], marker: str) -> Iterator[tuple[str, str, list[Entry]]]:
    """The output of ``rpm -q --qf changelog_queryformat(marker) NAME ...``: (name, version,
    entries) per package, in the order printed. Lines before the first marker are ignored."""
    acc: _Entries | None = None
    current: tuple[str, str] | None = None
    for raw in lines:
        line = raw.rstrip("\n")
        if line.startswith(marker + " "):
            if acc is not None and current is not None:
                acc.flush()
                yield current[0], current[1], acc.entries
            name, _, version = line[len(marker) + 1:].partition(" ")
            acc, current = _Entries(), (name, rpm_version(version.strip()))
        elif acc is not None:
            _feed_rpm(acc, (line,))
    if acc is not None and current is not None:
        acc.flush()
        yield current[0], current[1], acc.entries


_DEBIAN_HEADER = re.compile(r"^(?P<source>[a-z0-9][a-z0-9+.-]*) \((?P<version>[^()\s]+)\)[^;]*;")
_DEBIAN_TRAILER = re.compile(r"^ -- ")
_DEBIAN_GROUP = re.compile(r"^\s*\[ .* \]\s*$")  # "  [ Aurelien Jarno ]": who made the items below


def parse_debian_changelog(lines: Iterable[str]) -> list[Entry]:
    """A Debian changelog (``/usr/share/doc/<pkg>/changelog.Debian.gz``): its newest
    MAX_ENTRIES items; an item is each ``*`` or ``-`` bullet, so the upstream fixes listed
    under "update from upstream stable branch:" count one by one."""
    acc = _Entries()
    for raw in lines:
        line = raw.rstrip("\n")
        header = _DEBIAN_HEADER.match(line)
        if header:
            acc.release(header["version"])
        elif _DEBIAN_TRAILER.match(line):
            acc.flush()
        elif _DEBIAN_GROUP.match(line) or not line.strip():
            acc.more("")
        elif _BULLET.match(line) and acc.version:
            acc.item(_BULLET.sub("", line, count=1))
        else:
            acc.more(line)
        if len(acc.entries) >= MAX_ENTRIES:
            break  # the rest of the file is older still: stop reading it
    acc.flush()
    return acc.entries
