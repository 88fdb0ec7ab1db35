"""Line-aware YAML input files (triage.yaml, budgets): loaded safely, walked with the node
tree beside the data so that every error names file, line, field and what was expected."""

from __future__ import annotations

import os
import re
from typing import Any, Callable

from .errors import InputFileError

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 50 else text[:47] + "..."


class YamlReader:
    """Walks the loaded YAML with the node tree beside it, so every error has a line."""

    def __init__(self, source: str, lines: dict[str, int]):
        self.source = source
        self.lines = lines

    def fail(self, path: str, expected: str) -> InputFileError:
        line = self._line(path)
        return InputFileError(self.source, expected, line=line, field=path or "(top level)")

    def _line(self, path: str) -> int | None:
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""

    def mapping(self, value: Any, path: str, allowed: tuple[str, ...]) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(path, f"expected a mapping, got {show(value)}")
        for key in value:
            if key not in allowed:
                sub = f"{path}.{key}" if path else str(key)
                raise self.fail(sub, f"unknown key, expected one of: {', '.join(allowed)}")
        return value

    def integer(self, value: Any, path: str, lo: int, hi: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise self.fail(path, f"expected an integer {lo}-{hi}, got {show(value)}")
        return value

    def number(self, value: Any, path: str, lo: float, hi: float) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
            raise self.fail(path, f"expected a number {lo:g}-{hi:g}, got {show(value)}")
        return float(value)

    def string(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(path, f"expected a non-empty string, got {show(value)}")
        return self.expand(value, path)

    def boolean(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, f"expected true or false, got {show(value)}")
        return value

    def strings(self, value: Any, path: str, check: Callable[[str, str], str] | None = None) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise self.fail(path, f"expected a list of strings, got {show(value)}")
        out = []
        for i, item in enumerate(value):
            s = self.string(item, f"{path}[{i}]")
            out.append(check(s, f"{path}[{i}]") if check else s)
        return tuple(out)

    def expand(self, value: str, path: str) -> str:
        def sub(m: re.Match) -> str:
            if m[1] not in os.environ:
                raise self.fail(path, f"environment variable {m[1]} is not set (referenced as ${{{m[1]}}})")
            return os.environ[m[1]]

        return _ENV_REF.sub(sub, value)


def _line_map(node: Any, path: str, out: dict[str, int]) -> None:
    import yaml

    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            sub = f"{path}.{key}" if path else str(key)
            out[sub] = key_node.start_mark.line + 1
            _line_map(value_node, sub, out)
            out[sub] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_map(item, f"{path}[{i}]", out)


def read_yaml(text: str, source: str) -> tuple[Any, YamlReader]:
    """Parse ``text`` safely; the data and a reader that knows every field's line."""
    import yaml

    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputFileError(source, f"not valid YAML: {problem}", line=mark.line + 1 if mark else None) from None
    lines: dict[str, int] = {}
    if node is not None:
        _line_map(node, "", lines)
    return data, YamlReader(source, lines)
