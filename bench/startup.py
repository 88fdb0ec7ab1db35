"""How fast `triage --help` starts (heavy libraries must be imported lazily).

Run: python bench/startup.py [runs]. Prints the median and spread of wall time over runs of
the installed console script, and what the CLI imported.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time


def main(runs: int = 21) -> None:
    exe = shutil.which("triage") or sys.exit("triage is not installed (pip install -e .)")
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([exe, "--help"], stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t0)
    times.sort()
    print(f"triage --help over {runs} runs: median {statistics.median(times) * 1000:.0f} ms, "
          f"min {times[0] * 1000:.0f} ms, max {times[-1] * 1000:.0f} ms (target <= 250 ms)")
    probe = ("import sys, triage.cli; heavy = [m for m in ('scipy', 'numpy', 'dns', 'psycopg', 'kubernetes', "
             "'requests', 'rich', 'git', 'yaml', 'psutil') if m in sys.modules]; print(heavy)")
    heavy = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip()
    print(f"heavy modules imported by the CLI at start: {heavy}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 21)
