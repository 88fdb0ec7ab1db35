"""Storm profiles of `triage repro db`: how the database is set up and how many pods restart.

A profile is a comma list (``without-index,pods=12,pool=8``) or a YAML file of the same keys,
read like the DNS reproducer's (triage/repro/spec.py):

  with-index          the composite index manifestblob (repository_id, blob_id) is there (default)
  without-index       it is dropped, so every image-layer fetch scans manifestblob
  pods=N              pods restarting at once, each with a cold cache (default 10)
  pool=M              connections each pod's pool may open, lazily, as its requests need them (default 10)
  max_connections=K   the embedded server's limit (default 50; --embedded only: a server you
                      name keeps its own settings)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from triage.errors import BadInput

from .spec import read_fields

DEFAULT_PODS = 10
DEFAULT_POOL = 10
DEFAULT_MAX_CONNECTIONS = 50  # below pods x pool: the storm can reach it
MAX_PODS = 50
MAX_POOL = 50
# One thread per pooled connection in this process: a bound on threads and on connections.
MAX_POD_CONNECTIONS = 500


@dataclass(frozen=True)
class StormProfile:
    spec: str = "with-index"
    index: bool = True
    pods: int = DEFAULT_PODS
    pool: int = DEFAULT_POOL
    max_connections: int | None = None  # None: the server's own (the embedded default when embedded)

    @property
    def connections(self) -> int:
        """The most connections the pods can hold."""
        return self.pods * self.pool


_KEYS = "with-index, without-index, pods=N, pool=M, max_connections=K"


def _int(value: Any, key: str, low: int, high: int) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise BadInput(f"profile: {key}: expected an integer {low}..{high}, got {value!r}") from None
    if not low <= number <= high:
        raise BadInput(f"profile: {key}: expected an integer {low}..{high}, got {value!r}")
    return number


def _flag(key: str, value: Any) -> None:
    if value not in (None, True, "", "true", "yes"):
        raise BadInput(f"profile: {key}: takes no value, got {value!r}")


def _apply(fields: dict[str, Any], key: str, value: Any) -> None:
    k = key.strip().lower().replace("_", "-")
    if k in ("with-index", "without-index"):
        _flag(k, value)
        index = k == "with-index"
        if fields.get("index", index) != index:
            raise BadInput("profile: with-index and without-index: pick one")
        fields["index"] = index
    elif k in ("pods", "pool", "max-connections"):
        if value is None or value is True:
            raise BadInput(f"profile: {k}: needs a value, e.g. {k}=10")
        limits = {"pods": (1, MAX_PODS), "pool": (1, MAX_POOL), "max-connections": (5, 10_000)}[k]
        fields[k.replace("-", "_")] = _int(value, k.replace("-", "_"), *limits)
    else:
        raise BadInput(f"profile: unknown key {key.strip()!r}; expected {_KEYS}")


def _build(spec: str, fields: dict[str, Any]) -> StormProfile:
    profile = replace(StormProfile(spec=spec), **fields)
    if profile.connections > MAX_POD_CONNECTIONS:
        raise BadInput(f"profile {spec!r}: pods x pool is {profile.connections}; at most {MAX_POD_CONNECTIONS} "
                       "(one thread and one connection each)")
    return profile


def parse_storm_profile(spec: str | None) -> StormProfile:
    """``"without-index,pods=12"`` or a YAML path -> StormProfile; BadInput with one line."""
    return _build(*read_fields((spec or "").strip() or "with-index", _KEYS, _apply))
