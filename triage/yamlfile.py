"""Line-aware YAML input files (triage.yaml, budgets, kubeconfigs): loaded safely and within
bounds, walked with the node tree beside the data so that every error names file, line,
field and what was expected.

Bounds (issue 16: a 425-byte alias bomb took 29 s and 3.2 GB; ``&a [*a]``, 1,000-deep
nesting and a 5,000-digit integer crashed): the text is at most ``MAX_YAML_BYTES`` and
``MAX_NODES`` values, nested at most ``MAX_DEPTH`` levels, both checked on the event stream
before anything is built; aliases may add at most ``MAX_ALIAS_NODES`` nodes once expanded
and never refer to themselves; an integer has at most ``MAX_INT_DIGITS`` digits.
All of it is refused as InputFileError (exit 2) with the line.
"""

from __future__ import annotations

import os
import re
from typing import Any, Callable

from .errors import InputFileError
from .fileio import read_input

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

# A kubeconfig with 500 clusters and their embedded CA certificates is about 1.5 MB and 12,500
# nodes; triage.yaml and budgets are a few KB. PyYAML resolves every scalar in Python (~10 us
# each), so the node count, not the size, is what bounds the time: 50,000 load in about 1 s.
MAX_YAML_BYTES = 4 * 1024 * 1024
MAX_NODES = 50_000
MAX_DEPTH = 64  # triage.yaml nests 5 deep, kubeconfigs 6; the composer recurses per level
MAX_ALIAS_NODES = 100_000  # nodes aliases may add when expanded: reuse, not a bomb
MAX_INT_DIGITS = 100  # no count, port or limit of ours needs more; 4,301 digits crash int()


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


def _refuse(source: str, node_or_event: Any, reason: str) -> InputFileError:
    return InputFileError(source, reason, line=node_or_event.start_mark.line + 1)


def _check_events(yaml: Any, loader_cls: Any, text: str, source: str) -> None:
    """Nesting depth and node count on the event stream, before the (recursive) composer
    builds anything."""
    loader = loader_cls(text)
    try:
        depth = nodes = 0
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _refuse(source, event, f"nested deeper than {MAX_DEPTH} levels")
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
                continue
            elif not isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent)):
                continue
            nodes += 1
            if nodes > MAX_NODES:
                raise _refuse(source, event, f"more than {MAX_NODES:,} values; not a config file")
    finally:
        loader.dispose()


_INT_TAG = "tag:yaml.org,2002:int"


def _check_nodes(yaml: Any, root: Any, source: str) -> None:
    """Alias expansion, self-reference and integer size on the composed graph.

    Each distinct node is visited once (iteratively); its expanded size is counted with the
    sizes of shared (aliased) children memoised, so a bomb is measured without expanding it."""
    size: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = ([n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode)
                    else node.value if isinstance(node, yaml.SequenceNode) else [])
        if done:
            on_path.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in children)
            continue
        if key in size:
            continue
        if key in on_path:
            raise _refuse(source, node, "an alias refers to the node it is inside (a recursive alias)")
        if isinstance(node, yaml.ScalarNode) and node.tag == _INT_TAG and \
                len(node.value.lstrip("+-").replace("_", "")) > MAX_INT_DIGITS:
            raise _refuse(source, node, f"an integer of more than {MAX_INT_DIGITS} digits")
        on_path.add(key)
        stack.append((node, True))
        for child in children:
            if id(child) in on_path:
                raise _refuse(source, child, "an alias refers to the node it is inside (a recursive alias)")
            stack.append((child, False))
    if size[id(root)] - len(size) > MAX_ALIAS_NODES:
        raise InputFileError(source, f"aliases expand the document by {size[id(root)] - len(size):,} nodes; "
                             f"at most {MAX_ALIAS_NODES:,} are allowed (an alias bomb?)")


def _construct(yaml: Any, loader: Any, node: Any, source: str) -> Any:
    """PyYAML's constructors on checked nodes. Some of them fail on odd input with plain
    Python errors rather than YAMLError (``!!timestamp 2020-99-99`` is a ValueError, a
    ``!!timestamp`` that matches no date an AttributeError): every one is bad input here."""
    try:
        return loader.construct_document(node)
    except yaml.YAMLError:
        raise
    except Exception as exc:  # noqa: BLE001 - third-party constructors on untrusted text
        raise InputFileError(source, f"not valid YAML: a value that cannot be built ({exc})") from None


def read_yaml_file(path: str, what: str) -> tuple[Any, YamlReader]:
    """Read and parse a YAML input file, never more than ``MAX_YAML_BYTES`` of it."""
    return read_yaml(read_input(path, what, MAX_YAML_BYTES), path)


def read_yaml(text: str, source: str) -> tuple[Any, YamlReader]:
    """Parse ``text`` safely and within the bounds above; the data and a reader that knows
    every field's line."""
    import yaml

    if len(text) > MAX_YAML_BYTES:
        raise InputFileError(source, f"larger than {MAX_YAML_BYTES // (1024 * 1024)} MiB, the limit for a YAML file")
    try:
        text.encode("utf-8")  # a file read as UTF-8 cannot hold a lone surrogate; a string can
    except UnicodeEncodeError as exc:
        raise InputFileError(source, f"not valid text: a lone surrogate at character {exc.start}") from None
    loader_cls = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it: 10x faster
    try:
        _check_events(yaml, loader_cls, text, source)
        loader = loader_cls(text)
        try:
            node = loader.get_single_node()
            if node is not None:
                _check_nodes(yaml, node, source)
            data = _construct(yaml, loader, node, source) if node is not None else None
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
