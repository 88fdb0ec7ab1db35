"""Built-in reproducers: small, bounded, loopback-by-default recreations of an incident.

The DNS reproducer (``triage repro dns``), bottom up:

- ``dns_profile``: fault profiles (server faults, client resolv.conf settings)
- ``dns_server``: the embedded server, a synthetic zone with those faults (asyncio);
  ``dns_server_process``: the same server in a child process of its own
- ``dns_workload``: the workload options and the open/closed-loop request loop
- ``dns_sides``: one side on a resolution path (glibc, or triage.dns_client's stub)
- ``netns``: one side behind real glibc in private namespaces, in a child process
- ``dns_report``: the report, its JSON summary, the sides as v1 snapshots
- ``dns_repro``: path choice and the whole run (``run_dns_repro``)
"""
