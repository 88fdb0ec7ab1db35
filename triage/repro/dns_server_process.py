"""The embedded DNS server in a child process of its own (``ServerProcess``), and that child.

The workload that measures the server must not share its GIL: on 2 cores, a server in the
client's process shows up in the client's latency.
"""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
import threading
from typing import Iterable

from triage.errors import BadInput

from .dns_profile import FaultProfile, parse_profile
from .dns_server import DEFAULT_TTL, EmbeddedDnsServer, check_bind


class ServerProcess:
    """An EmbeddedDnsServer in its own process. Same arguments as EmbeddedDnsServer. The child is ``python -m triage.repro.dns_server_process``
    speaking JSON lines on stdin/stdout (not multiprocessing: spawn re-imports ``__main__``,
    which breaks under ``python -`` and embedders); ``stats()`` asks it, EOF stops it.
    """

    def __init__(self, profile: str | FaultProfile | None = None, names: Iterable[str] = (),
                 bind: str = "127.0.0.1", port: int = 0, search_domains: Iterable[str] | None = None,
                 *, ttl: int = DEFAULT_TTL, seed: int | None = None, exposed: bool = False):
        prof = profile if isinstance(profile, FaultProfile) else parse_profile(profile)
        check_bind(bind, exposed)  # refused before a process starts
        self._config = {"profile": prof.to_dict(), "names": list(names), "bind": bind, "port": int(port),
                        "search_domains": None if search_domains is None else list(search_domains),
                        "ttl": ttl, "seed": seed, "exposed": exposed}
        self._proc = None
        self._lock = threading.Lock()
        self.host, self.port = bind, 0

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @staticmethod
    def _call(proc, line: str, timeout: float = 30.0) -> dict:
        """One command line out, one JSON line back (or RuntimeError if the child is gone)."""
        try:
            proc.stdin.write(line + "\n")
            proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            raise RuntimeError("embedded DNS server process is gone") from None
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        reply = proc.stdout.readline() if ready else ""
        if not reply:
            raise RuntimeError("embedded DNS server process stopped answering")
        return json.loads(reply)

    def start(self) -> "ServerProcess":
        proc = subprocess.Popen([sys.executable, "-m", "triage.repro.dns_server_process"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, bufsize=1)
        self._proc = proc
        try:
            reply = self._call(proc, json.dumps(self._config))
        except BaseException:
            self.stop()
            raise
        if "error" in reply:
            self.stop()
            raise BadInput(reply["error"]) if reply.get("bad_input") else RuntimeError(reply["error"])
        self.host, self.port = reply["host"], reply["port"]
        return self

    def stats(self) -> dict:
        with self._lock:
            if self._proc is None:
                raise RuntimeError("embedded DNS server process is not running")
            return self._call(self._proc, "stats", timeout=10)

    def stop(self) -> dict | None:
        """Stop the child; returns its final stats (None if it was already stopped)."""
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is None:
            return None
        final = None
        try:
            final = self._call(proc, "stop", timeout=10)
        except (RuntimeError, ValueError):
            pass
        finally:
            try:
                proc.stdin.close()
            except OSError:
                pass
            try:
                proc.wait(timeout=10)
            except Exception:  # noqa: BLE001 - whatever happened, do not leave it running
                proc.kill()
                proc.wait(timeout=5)
            proc.stdout.close()
        return final


def _child_main() -> int:
    """The ServerProcess child: config line in, ``{"host","port"}`` out, then stats/stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    config = json.loads(sys.stdin.readline())
    try:
        server = EmbeddedDnsServer(FaultProfile.from_dict(config["profile"]), config["names"], config["bind"],
                                   config["port"], config["search_domains"], ttl=config["ttl"],
                                   seed=config["seed"], exposed=config["exposed"]).start()
    except BadInput as exc:
        print(json.dumps({"error": str(exc), "bad_input": True}), flush=True)
        return 0
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
        return 0
    print(json.dumps({"host": server.host, "port": server.port}), flush=True)
    try:
        for line in sys.stdin:
            command = line.strip()
            if command == "stats":
                print(json.dumps(server.stats()), flush=True)
            elif command == "stop":
                break
    finally:
        server.stop()
    print(json.dumps(server.stats()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(_child_main())
