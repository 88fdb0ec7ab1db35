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
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from typing import Any

from triage.errors import BadInput

_available: dict[bool, tuple[bool, str]] = {}

MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1


class NamespaceError(BadInput):
    """The libc path could not be set up or its child failed; --path wire avoids it."""


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


def run_side_in_namespace(profile_spec: str, options, *, net: bool, progress=None):
    """Run one side in a child inside fresh namespaces; return its SideResult."""
    from .dns_profile import parse_profile
    from .dns_workload import SideResult

    cmd = _unshare_command(net)
    if cmd is None:
        raise NamespaceError("--path libc: unshare(1) not found; use --path wire")
    profile = parse_profile(profile_spec)
    request = json.dumps({"profile": profile_spec, "options": asdict(options), "net": net})
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
                    raise NamespaceError(f"--path libc: the namespace child overran {limit:.0f} s and was stopped")
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
        lines = [line for line in err.strip().splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit status {proc.returncode}"
        raise NamespaceError(f"--path libc: the namespace child failed: {reason}")
    try:
        return SideResult.from_dict(json.loads(out))
    except (ValueError, TypeError) as exc:
        raise NamespaceError(f"--path libc: the namespace child printed no result ({exc})") from None


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


def _child_main() -> int:
    from .dns_profile import parse_profile
    from .dns_workload import ResolvConf, WorkloadOptions, parse_hostport, run_embedded_side, run_external_side

    request = json.loads(sys.stdin.read())
    fields = request["options"]
    fields["names"] = tuple(fields["names"])
    options = WorkloadOptions(**fields)
    profile = parse_profile(request["profile"])
    _mount(None, "/", MS_REC | MS_PRIVATE)
    if request["net"]:
        loopback_up()
        conf_text = profile.resolv_conf("127.0.0.1")
    else:
        conf_text = profile.resolv_conf(parse_hostport(options.resolver or "")[0])
    bind_file(conf_text, "/etc/resolv.conf")
    if os.path.exists("/etc/nsswitch.conf"):
        bind_file(nsswitch_text(), "/etc/nsswitch.conf")
    if request["net"]:
        side = run_embedded_side(request["profile"], options, "libc", port=53)
    else:
        conf = ResolvConf.parse(conf_text)
        side = run_external_side(request["profile"], options, "libc", conf)
    sys.stdout.write(json.dumps(side.to_dict()))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(_child_main())
    except Exception as exc:  # noqa: BLE001 - one line for the parent to report
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(3)
