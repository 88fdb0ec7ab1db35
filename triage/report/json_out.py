"""The comparison as JSON (DESIGN.md contract): what `--format json` prints and nothing else.

``Comparison.from_dict`` reads it back, so a saved comparison can be rendered again later.
"""

from __future__ import annotations

from triage.verdict import Comparison

from . import RenderOptions


def render(comparison: Comparison, options: RenderOptions = RenderOptions()) -> str:
    return comparison.to_json()
