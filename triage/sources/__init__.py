"""Sources other than the live probes. Each produces an ordinary Snapshot v1, so the store,
compare, attribution, reports and gate work on it unchanged (DESIGN.md, "Contracts added").

- ``prometheus``: what monitoring already recorded, one sample per block per series.
"""
