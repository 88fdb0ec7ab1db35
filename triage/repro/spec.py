"""Profile specs of the reproducers: ``key[=value]`` items separated by commas, or a YAML
file mapping the same keys, read the same way for every reproducer (dns_profile, db_profile).
"""

from __future__ import annotations

from typing import Any

from triage.errors import BadInput, InputFileError


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
    and what was expected (``example``: "delay, drop, ...")."""
    import yaml

    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except OSError as exc:
        raise InputFileError(path, f"cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputFileError(path, f"not valid YAML ({getattr(exc, 'problem', None) or exc})",
                             line=mark.line + 1 if mark else None) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputFileError(path, f"expected a mapping of profile keys ({example})")
    return data
