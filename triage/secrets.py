"""Secrets: every form a secret the probes hold can take, and the one masking step every text
from a probe, a config or a server passes before it reaches a snapshot, a report or a log.

Secrets (passwords in DSNs and URLs, header values, kubeconfig credentials) live only in the
Config object and the clients built from it. A probe or client hands its secrets to this
module (``http_secrets``, ``dsn_secrets``, ``header_secrets``, ``kubeconfig_secrets``) and
masks its error text with ``mask_secrets(text, known)``; nobody else scrubs on their own.

The masking rule (README, "Hardening: limits and rules"):

- A known secret is searched for in all its forms: as written, percent-encoded and decoded,
  JSON-escaped; a header value also by its credential (``Bearer X`` -> ``X``); basic auth
  also as its base64 (``user:password`` as sent on the wire) and its password.
- Known secrets of 16 characters or more are masked wherever they occur (tokens are long and
  random; inside another word they are still the token, e.g. after ``%20``).
- Shorter ones are masked only as whole tokens: an edge of the secret that is a letter or
  digit must not touch another letter or digit. A password ``p`` never turns ``attempts``
  into ``attem***ts``, which would garble the text and point at the password.
- Secrets under 3 characters are not searched for at all (masking every standalone ``a``
  would do both). They never reach text by construction: nothing here formats a secret into
  text, and the structural masks below hide the places servers and libraries echo them
  (URL userinfo, libpq ``password=``, ``Authorization:`` values, ``Bearer`` tokens, basic
  auth base64) whatever their length.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import os
import re
from typing import Any, Iterable, Mapping
from urllib.parse import quote, unquote, urlsplit

MASK = "***"
MIN_SEARCHED = 3  # shorter known secrets are not searched for (see the module docstring)
MASKED_ANYWHERE = 16  # known secrets this long are masked even inside a longer word

_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]*)@")
# A libpq value is a bare word or a quoted string in which \' escapes a quote.
_KV_PASSWORD = re.compile(r"(?i)\b(password|passwd|pwd)\s*=\s*('(?:[^'\\]|\\.)*'?|\S+)")
# An Authorization (or Proxy-Authorization) value echoed as a header, a JSON field or k=v.
_AUTH_HEADER = re.compile(r"(?i)\b((?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?)"
                          r"(?:(bearer|basic|token|digest|negotiate)\s+)?([^\s\"',;}]+)")
# RFC 6750 b64token; 8+ characters, so "Bearer token expired" stays readable.
_BEARER = re.compile(r"\b(Bearer)\s+[A-Za-z0-9\-._~+/]{8,}=*")
_BASIC = re.compile(r"\b(Basic)\s+([A-Za-z0-9+/]{4,}={0,2})")
_WORD = re.compile(r"[^\W_]")  # a letter or digit: what a secret's edge must not touch
_CONNINFO_KEY = re.compile(r"\s*(\w+)\s*=\s*")


# --- the forms a secret takes -----------------------------------------------------------------


def secret_forms(secret: str) -> set[str]:
    """``secret`` as written, percent-encoded and decoded, and JSON-escaped."""
    if not secret:
        return set()
    forms = {secret, quote(secret, safe=""), unquote(secret), json.dumps(secret)[1:-1]}
    return {f for f in forms if f}


def _basic_forms(user: str, password: str) -> set[str]:
    """Basic auth as sent (base64 of ``user:password``, as requests and urllib3 encode it)."""
    forms = secret_forms(password)
    for encoding in ("latin-1", "utf-8"):
        try:
            forms.add(base64.b64encode(f"{user}:{password}".encode(encoding)).decode())
        except UnicodeEncodeError:
            continue
    return forms


def header_secrets(value: str) -> set[str]:
    """A header value's forms, its credential (``Bearer X`` -> X), and for basic auth the
    decoded ``user:password`` and the password."""
    forms = secret_forms(value)
    scheme, _, credential = value.strip().partition(" ")
    credential = credential.strip()
    if credential:
        forms |= secret_forms(credential)
        if scheme.lower() == "basic":
            decoded = _b64_text(credential)
            if decoded is not None:
                forms |= secret_forms(decoded)
                forms |= secret_forms(decoded.partition(":")[2])
    return forms


def http_secrets(url: str | None, headers: Mapping[str, str]) -> set[str]:
    """Everything an HTTP target may send that is secret: header values, the URL's password
    (as written, decoded and as the basic auth requests builds from it) and its query."""
    found: set[str] = set()
    for value in headers.values():
        found |= header_secrets(value)
    if url:
        try:
            parts = urlsplit(url)
            user, password = parts.username, parts.password
        except ValueError:
            return found
        if password:
            found |= _basic_forms(unquote(user or ""), unquote(password))
            found |= _basic_forms(user or "", password)
        found |= secret_forms(parts.query)
    return found


def url_secrets(url: str) -> set[str]:
    """What a git remote's URL holds that is secret: its password, and for http(s) a user with
    no password (a token as the user: ``https://TOKEN@host/…``). An ssh user (``git@``) is not."""
    try:
        parts = urlsplit(url)
        user, password = parts.username, parts.password
    except ValueError:
        return set()
    found = secret_forms(password or "")
    if not password and user and parts.scheme in ("http", "https"):
        found |= secret_forms(user)
    return found


def mask_url(url: str) -> str:
    """``url`` fit to show: the userinfo of an http(s) URL masked whole (``https://***@host/…``),
    any other URL's password masked."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
    except ValueError:
        return mask_secrets(url)
    if "@" in netloc and parts.scheme in ("http", "https"):
        return parts._replace(netloc=f"{MASK}@{netloc.rpartition('@')[2]}").geturl()
    return mask_secrets(url, url_secrets(url))


def dsn_secrets(dsn: str | None, environ: Mapping[str, str] = os.environ) -> set[str]:
    """Every password a PostgreSQL DSN may carry, URL or key=value form, parsed as libpq does
    and read textually too (a DSN libpq cannot parse still holds a password, and its parse
    error may quote it), plus $PGPASSWORD."""
    dsn = dsn or ""
    found: set[str] = set()
    if "://" in dsn:
        try:
            raw = urlsplit(dsn).password
        except ValueError:
            raw = None
        if raw:
            found |= secret_forms(raw)
    else:
        found |= {secret for key, secret in _conninfo_pairs(dsn) if key == "password"}
    for m in _KV_PASSWORD.finditer(dsn):
        value = m.group(2)
        for form in (value, value.strip("'"), value.split("&")[0]):  # & ends it in a URL query
            found |= secret_forms(form)
    if environ.get("PGPASSWORD"):
        found |= secret_forms(environ["PGPASSWORD"])
    return found


def _conninfo_pairs(text: str) -> list[tuple[str, str]]:
    """libpq's key=value conninfo: a value is a bare word or '...' with backslash escapes."""
    pairs, i, n = [], 0, len(text)
    while i < n:
        m = _CONNINFO_KEY.match(text, i)
        if not m:
            break
        i, value, quoted = m.end(), [], i < n and text[m.end():m.end() + 1] == "'"
        if quoted:
            i += 1
        while i < n and (text[i] != "'" if quoted else not text[i].isspace()):
            if text[i] == "\\" and i + 1 < n:
                i += 1
            value.append(text[i])
            i += 1
        i += 1 if quoted else 0
        pairs.append((m.group(1), "".join(value)))
    return pairs


_KUBE_USER_SECRETS = ("token", "password", "client-key-data")
_AUTH_PROVIDER_SECRETS = ("access-token", "id-token", "refresh-token", "client-secret")


def kubeconfig_secrets(doc: Any) -> set[str]:
    """Every credential a kubeconfig's users hold: tokens, passwords (and their basic auth),
    client keys (base64 and decoded), auth-provider tokens, exec-plugin environment values."""
    found: set[str] = set()
    users = doc.get("users") if isinstance(doc, dict) else None
    for entry in users if isinstance(users, list) else ():
        user = entry.get("user") if isinstance(entry, dict) else None
        if not isinstance(user, dict):
            continue
        for key in _KUBE_USER_SECRETS:
            if isinstance(user.get(key), str):
                found |= secret_forms(user[key])
        if isinstance(user.get("client-key-data"), str):
            decoded = _b64_text(user["client-key-data"])
            if decoded:
                found |= {decoded.strip(), *(line for line in decoded.splitlines() if "-----" not in line)}
        if isinstance(user.get("username"), str) and isinstance(user.get("password"), str):
            found |= _basic_forms(user["username"], user["password"])
        provider = user.get("auth-provider")
        config = provider.get("config") if isinstance(provider, dict) else None
        for key in _AUTH_PROVIDER_SECRETS if isinstance(config, dict) else ():
            if isinstance(config.get(key), str):
                found |= secret_forms(config[key])
        plugin = user.get("exec")
        env = plugin.get("env") if isinstance(plugin, dict) else None
        for item in env if isinstance(env, list) else ():
            if isinstance(item, dict) and isinstance(item.get("value"), str):
                found |= secret_forms(item["value"])
    return found


def _b64_text(text: str) -> str | None:
    try:
        return base64.b64decode(text, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


# --- masking ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _known_pattern(known: frozenset[str]) -> re.Pattern | None:
    """One alternation, longest first, so a secret inside another goes whole in one pass."""
    alternatives = []
    for secret in sorted((s for s in known if len(s) >= MIN_SEARCHED), key=len, reverse=True):
        body = re.escape(secret)
        if len(secret) < MASKED_ANYWHERE:
            if _WORD.match(secret[0]):
                body = r"(?<![^\W_])" + body
            if _WORD.match(secret[-1]):
                body += r"(?![^\W_])"
        alternatives.append(body)
    return re.compile("|".join(alternatives)) if alternatives else None


def _mask_basic(m: re.Match) -> str:
    decoded = _b64_text(m.group(2))
    return f"{m.group(1)} {MASK}" if decoded is not None and ":" in decoded else m.group(0)


def mask_secrets(text: str, known: Iterable[str] = ()) -> str:
    """``text`` with the ``known`` secrets masked (rules in the module docstring), then any
    URL/DSN password (``user:***@``), libpq ``password=...``, Authorization value, Bearer
    token or basic auth credential."""
    pattern = _known_pattern(frozenset(known))
    if pattern is not None:
        text = pattern.sub(MASK, text)
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = _KV_PASSWORD.sub(lambda m: f"{m.group(1)}={MASK}", text)
    text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{m.group(2) + ' ' if m.group(2) else ''}{MASK}", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
    return _BASIC.sub(_mask_basic, text)
