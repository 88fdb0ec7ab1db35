"""Profile specs of the reproducers: ``key[=value]`` items separated by commas, or a YAML
file mapping the same keys, read the same way for every reproducer (dns_profile, db_profile).
"""

from __future__ import annotations

import os
from typing import Any, Callable

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


Apply = Callable[[dict[str, Any], str, Any], None]  # one key's value into the fields (BadInput if bad)


def read_fields(text: str, example: str, apply: Apply,
                skip: Callable[[str, str | None], bool] = lambda key, value: False) -> tuple[str, dict[str, Any]]:
    """A profile's (name, fields): from the YAML file ``text`` names (its base name; a bad key
    is InputFileError naming the file and the key), else from the spec's items (``skip``:
    items that set nothing, such as a bare "healthy")."""
    fields: dict[str, Any] = {}
    if text.endswith((".yaml", ".yml")) or ("=" not in text and os.path.isfile(text)):
        for key, value in load_yaml_mapping(text, example).items():
            try:
                apply(fields, str(key), value)
            except BadInput as exc:
                raise InputFileError(text, str(exc).removeprefix("profile: ").split(": ", 1)[-1],
                                     field=str(key)) from None
        return os.path.basename(text), fields
    for key, value in spec_items(text):
        if not skip(key, value):
            apply(fields, key, value)
    return text, fields
