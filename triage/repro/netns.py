"""The libc path: one workload side behind real glibc, inside private namespaces.

The parent starts ``unshare --net --mount -- python -m triage.repro.netns`` (with
``--user --map-root-user`` when not root) and hands it the side to run as JSON on stdin.
Inside, the child brings ``lo`` up, makes its mounts private, bind-mounts the profile's
resolv.conf over /etc/resolv.conf (and an nsswitch.conf whose hosts line is ``files dns``,
so nscd or systemd-resolved on the host cannot answer instead), starts the embedded server
on 127.0.0.1:53 and runs the workload with getaddrinfo. It prints the SideResult as JSON.
Nothing it mounts is visible outside, and everything goes when the process exits.

For ``--resolver IP`` (port 53) only a mount namespace is used: the network stays the host's.
Python 3.11 has no os.unshare, and unshare(1) is on every Linux that could do this anyway.

Two ways this can fail, told apart: the namespaces cannot be made or set up here (unshare
refused, a mount not permitted: ``NamespaceUnavailable``, bad input, exit 2, and ``--path
auto`` falls back to the wire path), or the child crashed, hung or was killed once running
(``NamespaceChildFailed``: a crash, exit 1, with the child's reason).
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from typing import Any

from triage.errors import BadInput

from .dns_profile import parse_profile
from .dns_sides import profile_conf, run_embedded_side, run_external_side
from .dns_workload import SideProgress, SideResult, WorkloadOptions

_available: dict[bool, tuple[bool, str]] = {}

MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
# The child's exit status when setting up its namespaces was refused (a mount not
# permitted, no /etc/resolv.conf to mount over): the environment's doing, not a crash.
SETUP_REFUSED = 4
CRASHED = 3  # anything else the child raised: a crash, reported with its one line


class NamespaceUnavailable(BadInput):
    """The namespaces the libc path needs cannot be made or set up here; --path wire avoids it."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(f"--path libc: not possible here: {reason}; --path wire avoids it")


class NamespaceChildFailed(RuntimeError):
    """The namespace child crashed, hung or was killed: a crash (exit 1), not bad input."""


def _unshare_command(net: bool) -> list[str] | None:
    binary = shutil.which("unshare")
    if binary is None:
        return None
    cmd = [binary]
    if os.geteuid() != 0:
        cmd += ["--user", "--map-root-user"]
    if net:
        cmd.append("--net")
    cmd += ["--mount", "--propagation", "private", "--"]
    return cmd


def available(net: bool = True) -> tuple[bool, str]:
    """(usable, reason): can this process make the namespaces the libc path needs?"""
    if net in _available:
        return _available[net]
    if not sys.platform.startswith("linux"):
        answer = (False, "namespaces are Linux only")
    else:
        cmd = _unshare_command(net)
        if cmd is None:
            answer = (False, "unshare(1) not found")
        else:
            try:
                done = subprocess.run([*cmd, "true"], capture_output=True, text=True, timeout=10)
                answer = (True, "ok") if done.returncode == 0 else \
                    (False, f"unshare refused: {(done.stderr.strip().splitlines() or ['exit ' + str(done.returncode)])[-1]}")
            except (OSError, subprocess.TimeoutExpired) as exc:
                answer = (False, f"unshare failed: {exc}")
    _available[net] = answer
    return answer


def run_side_in_namespace(profile_spec: str, options: WorkloadOptions, *, net: bool,
                          progress: SideProgress | None = None) -> SideResult:
    """Run one side in a child inside fresh namespaces; return its SideResult."""
    cmd = _unshare_command(net)
    if cmd is None:
        raise NamespaceUnavailable("unshare(1) not found")
    profile = parse_profile(profile_spec)
    request = json.dumps({"profile": profile_spec, "options": options.to_dict(), "net": net})
    # A side ends by --duration; lookups under way then finish within the resolver's timeouts.
    limit = options.duration_s + profile.timeout_s * profile.attempts * 8 + options.hold_ms / 1000 + 60
    proc = subprocess.Popen([*cmd, sys.executable, "-m", "triage.repro.netns"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    start = time.monotonic()
    payload: str | None = request
    try:
        while True:
            try:
                out, err = proc.communicate(input=payload, timeout=0.25)
                break
            except subprocess.TimeoutExpired:
                payload = None
                elapsed = time.monotonic() - start
                if progress is not None:
                    progress.tick(min(elapsed, options.duration_s))
                if elapsed > limit:
                    proc.kill()
                    proc.communicate()
                    raise NamespaceChildFailed(f"the namespace child overran {limit:.0f} s and was stopped")
    except BaseException:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
        raise
    if proc.returncode != 0:
        raise _child_failure(proc.returncode, err)
    try:
        return SideResult.from_dict(json.loads(out))
    except (ValueError, TypeError) as exc:
        raise NamespaceChildFailed(f"the namespace child printed no result ({exc})") from None


def _child_failure(status: int, stderr: str) -> NamespaceUnavailable | NamespaceChildFailed:
    """What a non-zero exit of ``unshare ... python -m triage.repro.netns`` means."""
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    if status == SETUP_REFUSED:
        return NamespaceUnavailable(last or "the namespace could not be set up")
    if last.startswith("unshare:"):  # unshare(1) itself: the namespaces were not allowed
        return NamespaceUnavailable(last)
    if status < 0:
        return NamespaceChildFailed(f"the namespace child was killed by {signal.Signals(-status).name}"
                                    + (f" ({last})" if last else ""))
    return NamespaceChildFailed(f"the namespace child failed (exit status {status}): {last or 'no message'}")


# ---- inside the namespaces ------------------------------------------------------------------

def _libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


def _mount(source: str | None, target: str, flags: int) -> None:
    libc = _libc()
    libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p)
    rc = libc.mount(source.encode() if source else None, target.encode(), None, flags, None)
    if rc != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {target}: {os.strerror(errno)}")


def loopback_up() -> None:
    """``ip link set lo up`` by ioctl, so the path does not depend on iproute2."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | IFF_UP))


def bind_file(text: str, target: str) -> None:
    """Put ``text`` over ``target`` for this mount namespace only."""
    fd, tmp = tempfile.mkstemp(prefix="triage-netns-", suffix=".conf")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        _mount(tmp, target, MS_BIND)
    finally:
        os.unlink(tmp)  # the mount keeps the inode alive; nothing is left behind on disk


def nsswitch_text(path: str = "/etc/nsswitch.conf") -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError:
        lines = []
    kept = [line for line in lines if not line.strip().startswith("hosts:")]
    return "\n".join([*kept, "hosts: files dns"]) + "\n"


def _set_up(net: bool, conf_text: str) -> None:
    """Private mounts, ``lo`` up, the side's resolv.conf and nsswitch.conf over the host's."""
    _mount(None, "/", MS_REC | MS_PRIVATE)
    if net:
        try:
            loopback_up()
        except OSError as exc:
            raise OSError(exc.errno, f"bringing lo up: {exc.strerror}") from None
    if not os.path.exists("/etc/resolv.conf"):
        # Creating it would create it on the host: mounts are private, files are not.
        raise OSError("no /etc/resolv.conf to mount the side's over")
    bind_file(conf_text, "/etc/resolv.conf")
    if os.path.exists("/etc/nsswitch.conf"):
        bind_file(nsswitch_text(), "/etc/nsswitch.conf")


def _child_main() -> int:
    request = json.loads(sys.stdin.read())
    options = WorkloadOptions.from_dict(request["options"])
    profile = parse_profile(request["profile"])
    net = request["net"]
    nameserver = "127.0.0.1" if net else options.resolver_address()[0]
    conf_text = profile.resolv_conf(nameserver)
    try:
        _set_up(net, conf_text)
    except OSError as exc:
        print(f"namespace setup: {exc.strerror or exc}", file=sys.stderr)
        return SETUP_REFUSED
    if net:
        side = run_embedded_side(request["profile"], options, "libc", port=53)
    else:
        side = run_external_side(request["profile"], options, "libc", profile_conf(profile, nameserver))
    sys.stdout.write(json.dumps(side.to_dict()))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(_child_main())
    except Exception as exc:  # noqa: BLE001 - one line for the parent to report
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(CRASHED)
