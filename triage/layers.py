"""The layers of the stack, bottom first, and who can make whom look slow (DESIGN.md).

The one place that names them: the probe registry loads one module per layer in this
order, compare rolls metrics up per layer in it, and attribution walks the dependencies.
"""

from __future__ import annotations

from typing import Iterable, Mapping

LAYERS: tuple[str, ...] = ("kernel", "dns", "kubernetes", "database", "app")

DEPENDENCIES: Mapping[str, tuple[str, ...]] = {
    "kernel": (),
    "dns": ("kernel",),
    "kubernetes": ("kernel", "dns"),
    "database": ("kernel", "dns"),
    "app": ("kernel", "dns", "kubernetes", "database"),
}


def rank(layer: str) -> int:
    """Position in the stack, bottom first; a layer we don't know sorts after the known ones."""
    return LAYERS.index(layer) if layer in LAYERS else len(LAYERS)


def stack_order(layers: Iterable[str]) -> list[str]:
    """``layers`` bottom of the stack first, unknown names last in name order."""
    return sorted(set(layers), key=lambda layer: (rank(layer), layer))


def below(layer: str) -> tuple[str, ...]:
    """Every layer ``layer`` depends on, directly or not, bottom of the stack first."""
    seen: set[str] = set()
    todo = list(DEPENDENCIES.get(layer, ()))
    while todo:
        dep = todo.pop()
        if dep not in seen:
            seen.add(dep)
            todo.extend(DEPENDENCIES.get(dep, ()))
    return tuple(stack_order(seen))
