"""What changed in a fact, in words: a structured difference of two JSON values.

A fact whose value is a mapping or a list (a query plan, a Corefile's server blocks, a list
of kernel versions) is read by what differs, never as a prefix of both values cut at the
same place (``{"indexes": ["imagestorage_pkey", ...`` → the same, issue 15):

- mapping vs mapping: the keys that differ. A key whose values are both mappings reads by
  its inner keys, first ("manifest_blob Index Scan using x → Seq Scan": the plan's
  ``access`` by relation); then lists ("node_types +Seq Scan −Index Scan"); then short
  values ("ndots 5 → 2"); a long text only as "shape changed" (it would say nothing cut
  short); a key on one side only as "+key value" / "−key".
- list vs list of plain values: "+added, −removed" (or "reordered"); both lists when they
  have nothing in common (a replacement).
- anything else: both values, shortened.

Pure; imports only triage.formatting, so triage.verdict can use it for every fact.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from .formatting import short_value

# A text longer than this reads "changed" rather than both values cut short: an access path
# ("Index Only Scan using manifestblob_repository_id_blob_id", 56) reads whole, a plan's
# shape (a join of two scans: 150 and more) does not.
LONG_TEXT = 64
PART_LIMIT = 160  # one part of the description, at most
LIMIT = 320  # the whole description, at most; the parts left out are counted


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _plain_list(value: Any) -> bool:
    return isinstance(value, list) and all(_plain(v) for v in value)


def _cut(text: str, limit: int = PART_LIMIT) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _value(value: Any) -> str:
    return short_value(value, PART_LIMIT // 2)


def list_change(old: Sequence[Any], new: Sequence[Any]) -> str:
    """'+a, +b, −c' for two lists of plain values that keep something in common, 'reordered'
    when only the order moved; a list replaced by one with nothing in common reads as both
    ('["172.30.0.10"] → ["172.30.0.11"]': a replacement, not an addition and a removal)."""
    old_keys = [short_value(v) for v in old]
    new_keys = [short_value(v) for v in new]
    if old_keys and new_keys and not set(old_keys) & set(new_keys):
        return f"{_value(list(old))} → {_value(list(new))}"
    added = [k for k in dict.fromkeys(new_keys) if k not in set(old_keys)]
    removed = [k for k in dict.fromkeys(old_keys) if k not in set(new_keys)]
    if not added and not removed:
        return "reordered" if old_keys != new_keys else "unchanged"
    return ", ".join([f"+{k}" for k in added] + [f"−{k}" for k in removed])


def _scalar_change(key: str, old: Any, new: Any) -> str:
    if any(isinstance(v, str) and len(v) > LONG_TEXT for v in (old, new)):
        return f"{key} changed"
    return f"{key} {_value(old)} → {_value(new)}"


def mapping_parts(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The differences of two mappings, one short part each, most telling first."""
    nested: list[str] = []
    lists: list[str] = []
    scalars: list[str] = []
    longs: list[str] = []
    for key in sorted(set(old) | set(new), key=str):
        name = f"{prefix}{key}"
        if key not in old:
            scalars.append(_cut(f"+{name} {_value(new[key])}"))
            continue
        if key not in new:
            scalars.append(_cut(f"−{name}"))
            continue
        a, b = old[key], new[key]
        if a == b:
            continue
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            nested.extend(mapping_parts(a, b))
        elif _plain_list(a) and _plain_list(b):
            lists.append(_cut(f"{name} {list_change(a, b)}"))
        else:
            part = _scalar_change(name, a, b)
            (longs if part.endswith(" changed") else scalars).append(_cut(part))
    return nested + lists + scalars + longs


def _structured(old: Any, new: Any) -> bool:
    return (isinstance(old, Mapping) and isinstance(new, Mapping)) or (_plain_list(old) and _plain_list(new))


def describe_change(old: Any, new: Any, limit: int = LIMIT) -> str:
    """A changed fact in one line: its structured difference, or both values shortened."""
    if not _structured(old, new):
        return f"{short_value(old)} → {short_value(new)}"
    parts = mapping_parts(old, new) if isinstance(old, Mapping) else [list_change(old, new)]
    if not parts:
        return "unchanged"
    shown: list[str] = []
    for i, part in enumerate(parts):
        rest = len(parts) - i - 1
        more = f"; and {rest} more" if rest else ""
        if shown and len("; ".join(shown + [part]) + more) > limit:
            return "; ".join(shown) + f"; and {len(parts) - len(shown)} more"
        shown.append(part)
    return "; ".join(shown)


def changed_phrase(old: Any, new: Any) -> str:
    """'changed 4.18 → 5.14', 'changed +6.1, −4.18' (lists); 'changed: manifest_blob Index Scan
    … → Seq Scan; node_types +Seq Scan' for mappings, whose parts a colon introduces."""
    mappings = isinstance(old, Mapping) and isinstance(new, Mapping)
    return f"changed{':' if mappings else ''} {describe_change(old, new)}"
