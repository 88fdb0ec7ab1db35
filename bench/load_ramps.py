"""Load ramps judged on repeated pairs: false alarms when nothing changed, and the regressions
they exist to catch. Every pair is two real `triage probe --load` runs (in this process, as
bench/real_servers.py probes) against servers started here, then `compare`:

1. dns A/A: the embedded DNS server, healthy on both sides, ``--pairs`` pairs (default 20):
   how many pairs end in a regression verdict, and how many in a fallen capacity; once with
   one server probed twice (one platform, two runs), once with a fresh server process a side.
2. dns fault: healthy vs ``delay=2ms,overload=1`` (one reply in flight at a time, 2 ms each:
   500 q/s at most): how often dns capacity regressed.
3. app lock: a local HTTP app whose handler holds a lock for 2 ms on the candidate only
   (500 req/s at most) vs the same handler without the lock: how often app capacity regressed
   with app the root suspect.

The ramps are the tests' (tests/load/test_ramps.py), the idle probes beside them as `triage
probe` runs them by default (50 samples, groups spread over 1 s): the numbers here are what
those tests' directions rest on. Order alternates per pair (A B, then B A) so drift hits both. Never a test.

Run: python bench/load_ramps.py [--pairs 20] [--fault-pairs 5]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.load.lock_app import lock_app  # noqa: E402
from tests.load.test_ramps import APP_RAMP, DNS_RAMP, NAME, dns_section  # noqa: E402
from triage.config import parse_config  # noqa: E402
from triage.judge import compare_snapshots  # noqa: E402
from triage.repro.dns_server_process import ServerProcess  # noqa: E402
from triage.runner import RunOptions, run_probes  # noqa: E402


# The idle probes as `triage probe` runs them by default (groups spread over 1 s), fewer samples.
IDLE = "samples: 50\n"


def probe(text: str, label: str, layers: tuple[str, ...]):
    return run_probes(parse_config(text, f"<bench {label}>"), RunOptions(layers=layers, label=label, load=True))


def capacity(c, layer: str):
    return next((m for m in c.metrics if m.layer == layer and m.probe == "ramp" and m.metric == "capacity"), None)


def dns_pairs(pairs: int, candidate_profile: str, *, one_server: bool = False) -> list:
    """``one_server``: both sides probe the same server process (one platform probed twice);
    otherwise each side starts its own, as two platforms do."""
    out = []
    for i in range(pairs):
        sides = {}
        order = (("a", "healthy"), ("b", candidate_profile))
        with ServerProcess("healthy", names=[NAME], seed=i) if one_server else _nothing() as shared:
            for label, profile in order if i % 2 == 0 else tuple(reversed(order)):
                with _nothing(shared) if one_server else ServerProcess(profile, names=[NAME], seed=i) as server:
                    sides[label] = probe(IDLE + DNS_RAMP + dns_section(server.port), label, ("dns",))
        c = compare_snapshots([sides["a"]], [sides["b"]])
        cap = capacity(c, "dns")
        out.append(c)
        regressed = [m.id for m in c.metrics if m.verdict == "regressed"]
        print(f"  pair {i + 1:>2}: verdict {c.verdict:<12} dns capacity "
              f"{cap.baseline.value if cap and cap.baseline else '–'} → {cap.candidate.value if cap and cap.candidate else '–'} "
              f"({cap.verdict if cap else 'absent'})" + (f"; regressed: {', '.join(regressed[:4])}" if regressed else ""),
              flush=True)
    return out


@contextlib.contextmanager
def _nothing(value=None):
    yield value


def app_pairs(pairs: int) -> list:
    out = []
    with ServerProcess("healthy", names=[NAME]) as dns:
        for i in range(pairs):
            sides = {}
            order = (("free", False), ("locked", True))
            for label, locked in order if i % 2 == 0 else tuple(reversed(order)):
                with lock_app(2.0, locked=locked) as url:
                    sides[label] = probe(IDLE + APP_RAMP.format(url=url) + dns_section(dns.port), label,
                                         ("kernel", "dns", "app"))
            c = compare_snapshots([sides["free"]], [sides["locked"]])
            cap = capacity(c, "app")
            roots = c.root_layers
            others = [m.id for m in c.metrics if m.verdict == "regressed" and m.layer != "app"]
            free = next(r for r in sides["free"].results if r.probe == "ramp").extra["ramp"]["stopped_by"]
            out.append((c, roots))
            print(f"  pair {i + 1:>2}: verdict {c.verdict:<12} roots {roots}  app capacity "
                  f"{cap.baseline.value if cap and cap.baseline else '–'} → "
                  f"{cap.candidate.value if cap and cap.candidate else '–'} ({cap.verdict if cap else 'absent'})"
                  + (f"; also regressed: {', '.join(others[:3])}" if others else "")
                  + (f"; without the lock stopped by {free[:100]}" if free != "its last step" else ""), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--fault-pairs", type=int, default=5)
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"1. dns healthy vs healthy, one server probed twice, {args.pairs} pairs:")
    aa = dns_pairs(args.pairs, "healthy", one_server=True)
    print(f"1b. dns healthy vs healthy, a fresh server process each side, {args.pairs} pairs:")
    fresh = dns_pairs(args.pairs, "healthy")
    print(f"2. dns healthy vs delay=2ms,overload=1, {args.fault_pairs} pairs:")
    fault = dns_pairs(args.fault_pairs, "delay=2ms,overload=1")
    print(f"3. app without vs with a 2 ms lock, {args.fault_pairs} pairs:")
    lock = app_pairs(args.fault_pairs)

    def cap_regressed(c, layer: str) -> bool:
        row = capacity(c, layer)
        return row is not None and row.verdict == "regressed"

    for name, runs in (("dns A/A, one server", aa), ("dns A/A, fresh servers", fresh)):
        print(f"{name}: {sum(c.verdict == 'regressed' for c in runs)}/{len(runs)} pairs with a regression verdict, "
              f"{sum(cap_regressed(c, 'dns') for c in runs)}/{len(runs)} with dns capacity regressed")
    caught = sum(cap_regressed(c, "dns") for c in fault)
    app_caught = sum(cap_regressed(c, "app") and roots == ["app"] for c, roots in lock)
    print(f"dns delay=2ms,overload=1: dns capacity regressed in {caught}/{len(fault)} pairs")
    print(f"app 2 ms lock: app capacity regressed with app the only root in {app_caught}/{len(lock)} pairs")


if __name__ == "__main__":
    started = time.monotonic()
    main()
    print(f"({time.monotonic() - started:.0f} s)")
