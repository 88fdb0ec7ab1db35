"""Secrets masking: the one step every text from a probe, a config or a server passes
before it reaches a snapshot, a report or a log.

Secrets (passwords in DSNs and URLs, header values, tokens) live only in the Config
object; what goes outside names the target with its secrets replaced by ``***``.
"""

from __future__ import annotations

import re
from typing import Iterable

_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]*)@")
# A libpq value is a bare word or a quoted string in which \' escapes a quote.
_KV_PASSWORD = re.compile(r"(?i)\b(password|passwd|pwd)\s*=\s*('(?:[^'\\]|\\.)*'?|\S+)")


def mask_secrets(text: str, known: Iterable[str] = ()) -> str:
    """Hide the ``known`` secrets (longest first, so one inside another goes whole), then
    any password in a URL/DSN (``user:***@``) or a libpq ``password=...`` string."""
    for secret in sorted((s for s in known if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
    return _KV_PASSWORD.sub(lambda m: f"{m.group(1)}=***", text)
