"""resolv.conf as glibc reads it, the names one lookup tries under its search rules and
what that costs, and resolver addresses (``IP[:port]``) as the config, the probes and the
reproducer take them.

Shared by the dns probes (which report it) and the stub resolver in triage.dns_client
(which follows it, for the reproducer), so both agree with glibc and with each other.
The parser and the search order are pure; ``read_system_resolv_conf`` is the one source
that reads this process's resolv.conf.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

# glibc limits (resolv/res_init.c, resolv.h): values above are clamped, not refused.
GLIBC_MAXNS = 3
_GLIBC_MAX_NDOTS = 15
_GLIBC_MAX_TIMEOUT = 30
_GLIBC_MAX_ATTEMPTS = 5
DNS_PORT = 53
RESOLV_CONF_ENV = "TRIAGE_RESOLV_CONF"  # points every resolv.conf read at another file (tests, captures)


@dataclass(frozen=True)
class ResolvConf:
    """What glibc's stub resolver takes from resolv.conf (defaults when a line is absent)."""

    nameservers: tuple[str, ...] = ()
    search: tuple[str, ...] = ()
    ndots: int = 1
    timeout: int = 5
    attempts: int = 2
    options: tuple[str, ...] = ()  # every option word as written (ndots:5, rotate, single-request, ...)
    ignored_nameservers: tuple[str, ...] = ()  # beyond glibc's three, never used

    @property
    def no_tld_query(self) -> bool:
        return any(o in ("no-tld-query", "no_tld_query") for o in self.options)

    def candidates(self, name: str) -> list[str]:
        """The absolute names one lookup of ``name`` tries, in glibc's order (``search_order``)."""
        return search_order(name, self.search, self.ndots, no_tld_query=self.no_tld_query)


def _atoi(text: str) -> int:
    """C's atoi: optional sign and leading digits, 0 when there are none (``ndots:x`` is 0)."""
    sign, digits = (-1, text[1:]) if text.startswith("-") else (1, text.lstrip("+"))
    n = len(digits) - len(digits.lstrip("0123456789"))
    return sign * int(digits[:n]) if n else 0


def _apply_options(conf: ResolvConf, words: Iterable[str]) -> ResolvConf:
    changes: dict[str, Any] = {}
    options = list(conf.options)
    for word in words:
        options.append(word)
        for key, limit in (("ndots", _GLIBC_MAX_NDOTS), ("timeout", _GLIBC_MAX_TIMEOUT),
                           ("attempts", _GLIBC_MAX_ATTEMPTS)):
            if word.startswith(key + ":"):
                changes[key] = min(_atoi(word[len(key) + 1:]), limit)
    return replace(conf, options=tuple(options), **changes)


def _nameserver(word: str) -> str | None:
    """The address glibc would use, or None when it would skip the line."""
    try:
        ipaddress.ip_address(word.split("%", 1)[0])
    except ValueError:
        return None
    return word


def parse_resolv_conf(text: str) -> ResolvConf:
    """Parse resolv.conf text the way glibc does (resolv/res_init.c).

    - Keywords count only at the start of a line and followed by a space or tab; lines
      starting with ``#`` or ``;`` are comments. There are no inline comments, but only
      the first word after ``nameserver`` and ``domain`` is read.
    - ``search`` and ``domain`` both set the search list; the last such line wins.
    - Nameservers that are not IP addresses are skipped; at most three are used, the
      rest are kept in ``ignored_nameservers``.
    - ``options`` lines accumulate. ``ndots``/``timeout``/``attempts`` take C atoi
      values (``ndots:x`` is 0) capped at glibc's limits (15, 30, 5); the last one wins.
      Every option word is kept as written; unknown ones have no effect here.
    """
    conf = ResolvConf()
    nameservers: list[str] = []
    for line in text.splitlines():
        if not line or line[0] in "#;":
            continue
        keyword, *words = line.split()
        if len(line) == len(keyword) or line[len(keyword)] not in " \t":
            continue  # glibc's MATCH: the keyword must be followed by a blank
        if keyword == "nameserver" and words:
            address = _nameserver(words[0])
            if address:
                nameservers.append(address)
        elif keyword == "search" and words:
            conf = replace(conf, search=tuple(words))
        elif keyword == "domain" and words:
            conf = replace(conf, search=(words[0],))
        elif keyword == "options":
            conf = _apply_options(conf, words)
    return replace(conf, nameservers=tuple(nameservers[:GLIBC_MAXNS]),
                   ignored_nameservers=tuple(nameservers[GLIBC_MAXNS:]))


def apply_resolver_environment(conf: ResolvConf, environ: Mapping[str, str]) -> ResolvConf:
    """glibc's per-process overrides: ``LOCALDOMAIN`` replaces the search list,
    ``RES_OPTIONS`` adds options after the file's."""
    if environ.get("LOCALDOMAIN", "").split():
        conf = replace(conf, search=tuple(environ["LOCALDOMAIN"].split()))
    if environ.get("RES_OPTIONS", "").split():
        conf = _apply_options(conf, environ["RES_OPTIONS"].split())
    return conf


def search_order(name: str, search: Sequence[str], ndots: int, *, no_tld_query: bool = False) -> list[str]:
    """The absolute names (trailing dot) one lookup tries, in glibc's order (res_query.c).

    A name with a trailing dot is only tried as written. A name with at least ``ndots``
    dots is tried as written first, then with each search domain. A name with fewer dots
    goes through the search list first and is tried as written last, unless it has no dot,
    the list was walked and ``no-tld-query`` is set. A root search domain (systemd-resolved's
    ``search .``) adds no candidate of its own.
    """
    if name.endswith("."):
        return [name]
    dots = name.count(".")
    as_written = name + "."
    searched = [f"{name}.{d.strip('.')}." for d in search if d.strip(".")]
    if dots >= ndots:
        return [as_written, *searched]
    if dots == 0 and searched and no_tld_query:
        return searched
    return [*searched, as_written]


class LookupCost(NamedTuple):
    """Queries one lookup sends (see ``queries_per_lookup``)."""

    worst: int  # the name resolves nowhere: every candidate is asked
    found_absolute: int  # the name as written resolves, after whatever comes before it


def queries_per_lookup(name: str, search: Sequence[str], ndots: int, qtypes: Sequence[str] = ("A", "AAAA"),
                       *, no_tld_query: bool = False) -> LookupCost:
    """Queries one ``getaddrinfo`` costs under glibc's search rules: one query per qtype
    (A and AAAA: glibc sends both, in parallel unless single-request) for each candidate
    of ``search_order``.

    Counted: queries that get an answer (NXDOMAIN or NODATA moves on to the next
    candidate). Not counted: retransmissions after a timeout (up to attempts x
    nameservers more per query).
    """
    candidates = search_order(name, search, ndots, no_tld_query=no_tld_query)
    as_written = name if name.endswith(".") else name + "."
    # A name never asked as written can only resolve through the list: the worst case.
    found = candidates.index(as_written) + 1 if as_written in candidates else len(candidates)
    return LookupCost(len(candidates) * len(qtypes), found * len(qtypes))


def split_hostport(text: str) -> tuple[str, int]:
    """``IP``, ``IP:port``, ``[IPv6]``, ``[IPv6]:port`` or a bare IPv6 -> (ip, port), 53 by default.

    Only addresses: a resolver named by a host name would itself need DNS. Raises
    ValueError saying what is wrong; callers name the option or key it came from.
    """
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise ValueError(f"expected IP[:port], got {text!r}")
        port = rest[1:]
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host, port = text, ""
    if port and not (port.isdigit() and 1 <= int(port) <= 65535):
        raise ValueError(f"expected a port 1..65535 in {text!r}")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"expected an IP address (not a name: it would need DNS), got {text!r}") from None
    return host, int(port) if port else DNS_PORT


def show_hostport(host: str, port: int) -> str:
    """The inverse of ``split_hostport``: ``IP:port`` or ``[IPv6]:port``."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def resolv_conf_path(etc_root: str | None = None) -> str:
    """``$TRIAGE_RESOLV_CONF`` if set, else ``<etc_root>/resolv.conf`` (``/etc`` by default)."""
    override = os.environ.get(RESOLV_CONF_ENV)
    if override:
        return override
    return os.path.join(etc_root or "/etc", "resolv.conf")


def read_system_resolv_conf(etc_root: str | None = None) -> tuple[ResolvConf, str, list[str]]:
    """(conf, path, notes): this process's resolv.conf as glibc would use it: the file
    (``resolv_conf_path``), the host name's domain as search list when the file has none,
    then ``LOCALDOMAIN`` and ``RES_OPTIONS``. The dns probes and ``repro dns --system`` read it here."""
    path = resolv_conf_path(etc_root)
    notes: list[str] = []
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            conf = parse_resolv_conf(fh.read())
    except FileNotFoundError:
        conf = ResolvConf()
        notes.append(f"{path} does not exist: glibc defaults apply (nameserver 127.0.0.1, ndots 1)")
    if not conf.search and not os.environ.get("LOCALDOMAIN", "").split():
        # glibc's default search list: the domain part of the host name.
        host = socket.gethostname()
        if "." in host.rstrip("."):
            conf = replace(conf, search=(host.rstrip(".").split(".", 1)[1],))
            notes.append(f"no search/domain line in {path}: search list from the host name ({conf.search[0]})")
    conf = apply_resolver_environment(conf, os.environ)
    if conf.ignored_nameservers:
        notes.append(f"{path}: glibc uses the first {GLIBC_MAXNS} nameservers, ignores "
                     f"{', '.join(conf.ignored_nameservers)}")
    return conf, path, notes
