"""The Prometheus source: what monitoring already recorded, as an ordinary Snapshot v1.

    client.py    the HTTP API (query_range, label values): timeouts, retries, bounded bodies
    profiles.py  well-known exporters' metrics mapped to layers, probes and metric names
    windows.py   --window forms, and windows cut around an upgrade from ClusterVersion history
    collect.py   one window read into a Snapshot: one result per (layer, probe, target),
                 one sample per block
    usecases.py  what `triage probe/gate --from prometheus` do

Kept free of imports so triage.config can read the profile names without loading the rest.
"""
