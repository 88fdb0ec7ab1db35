"""Built-in reproducers: small, bounded, loopback-by-default recreations of an incident.

``dns_profile`` parses fault profiles, ``dns_server`` serves a synthetic zone with those
faults, ``dns_workload`` runs an app-like workload against it (``triage repro dns``) and
``netns`` puts that workload behind real glibc in a private network namespace.
"""
