"""resolv.conf as glibc reads it, what one lookup costs under its search rules, and
resolver addresses (``IP[:port]``) as the config, the probes and the reproducer take them.

Shared by the dns probes (which report it) and the DNS reproducer's wire stub (which
follows it), so both agree with glibc and with each other.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

# glibc limits (resolv/res_init.c, resolv.h): values above are clamped, not refused.
GLIBC_MAXNS = 3
_GLIBC_MAX_NDOTS = 15
_GLIBC_MAX_TIMEOUT = 30
_GLIBC_MAX_ATTEMPTS = 5
DNS_PORT = 53


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


class LookupCost(NamedTuple):
    """Queries one lookup sends (see ``queries_per_lookup``)."""

    worst: int  # the name resolves nowhere: every candidate is asked
    found_absolute: int  # the name as written resolves, after whatever comes before it


def queries_per_lookup(name: str, search: Sequence[str], ndots: int, qtypes: Sequence[str] = ("A", "AAAA"),
                       *, no_tld_query: bool = False) -> LookupCost:
    """Queries one ``getaddrinfo`` costs under glibc's search rules (res_query.c).

    Candidates: a name with a trailing dot is only tried as written. A name with at least
    ``ndots`` dots is tried as written first, then with each search domain. A name with
    fewer dots goes through the search list first and is tried as written last (unless it
    has no dot and ``no-tld-query`` is set). Each candidate costs one query per qtype (A
    and AAAA: glibc sends both, in parallel unless single-request).

    Counted: queries that get an answer (NXDOMAIN or NODATA moves on to the next
    candidate). Not counted: retransmissions after a timeout (up to attempts x
    nameservers more per query), and a search domain equal to the root.
    """
    per_candidate = len(qtypes)
    if name.endswith("."):
        return LookupCost(per_candidate, per_candidate)
    dots = name.count(".")
    domains = len([d for d in search if d.strip(".")])
    as_written_tried = dots > 0 or dots >= ndots or not no_tld_query
    candidates = domains + (1 if as_written_tried else 0)
    # dots >= ndots: asked as written first. Otherwise every search domain fails first (and
    # a name never asked as written can only resolve through the list: the worst case).
    found = 1 if dots >= ndots else candidates
    return LookupCost(candidates * per_candidate, found * per_candidate)


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
