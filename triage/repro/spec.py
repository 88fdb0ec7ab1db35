"""Profile specs of the reproducers: ``key[=value]`` items separated by commas, or a YAML
file mapping the same keys, read the same way for every reproducer (dns_profile, db_profile).
"""

from __future__ import annotations

from typing import Any

from triage.errors import BadInput, InputFileError
from triage.yamlfile import read_yaml_file


def spec_items(text: str) -> list[tuple[str, str | None]]:
    """``"delay=3ms,aaaa-blackhole"`` -> ``[("delay", "3ms"), ("aaaa-blackhole", None)]``
    (None: the key was given bare). An empty item is BadInput."""
    items: list[tuple[str, str | None]] = []
    for item in text.split(","):
        if not item.strip():
            raise BadInput(f"profile: empty item in {text!r}; items are separated by single commas")
        key, sep, value = item.partition("=")
        items.append((key, value if sep else None))
    return items


def load_yaml_mapping(path: str, example: str) -> dict[Any, Any]:
    """A profile file's mapping (empty file: no keys); InputFileError naming the file, the line
    and what was expected (``example``: "delay, drop, ..."). Read by the one bounded YAML loader
    (triage.yamlfile: alias bombs, depth, 5,000-digit integers; issue 16), as triage.yaml is."""
    data, _ = read_yaml_file(path, "profile")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputFileError(path, f"expected a mapping of profile keys ({example})")
    return data
