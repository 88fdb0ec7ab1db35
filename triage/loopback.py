"""The loopback rule: reproducer servers listen on loopback, and load goes to loopback,
unless the user names the host that may be reached otherwise (DESIGN.md: "refused with
exit 2 before any packet is sent").

One check, one wording: ``require_loopback_or_allowed``. Its ``allowed`` hosts are what
the user confirmed (``--i-know-this-exposes-dns`` for a server's ``--bind``;
``--allow-load HOST[,HOST]`` for the hosts load may go to: `repro db --dsn`, `probe --load`).
"""

from __future__ import annotations

import ipaddress
from typing import Collection

from triage.errors import BadInput

EXPOSE_FLAG = "--i-know-this-exposes-dns"  # confirms a reproducer server on a non-loopback --bind
ALLOW_LOAD_FLAG = "--allow-load"  # names the non-loopback hosts load may go to (reproducers, ramps)


def parse_allow_load(text: str | None) -> tuple[str, ...]:
    """``--allow-load a.example,10.0.0.5`` → ('a.example', '10.0.0.5'); None or '' → ()."""
    hosts = tuple(h.strip() for h in (text or "").split(",") if h.strip())
    if text and not hosts:
        raise BadInput(f"{ALLOW_LOAD_FLAG}: expected a comma list of hosts, got {text!r}")
    return hosts


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 (also ``[::1]``, an IPv4-mapped loopback) or ``localhost``."""
    text = host.strip().strip("[]").split("%", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return text.lower().rstrip(".") == "localhost"
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or bool(mapped and mapped.is_loopback)


def _canonical(host: str) -> str:
    text = host.strip().strip("[]").lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text


def require_loopback_or_allowed(host: str, allowed: Collection[str], what: str, *, allow_with: str) -> None:
    """Refuse (BadInput, exit 2) ``host`` unless it is loopback or one of ``allowed``.

    ``what`` names where the host came from (``--bind``, ``--resolver``); ``allow_with``
    says how the user allows it (``add --i-know-this-exposes-dns``). Addresses compare in
    canonical form, so ``::0001`` allowed is ``::1`` allowed.
    """
    if is_loopback(host) or _canonical(host) in {_canonical(a) for a in allowed}:
        return
    raise BadInput(f"{what} {host}: not a loopback address; triage keeps its traffic on loopback "
                   f"unless told otherwise ({allow_with})")
