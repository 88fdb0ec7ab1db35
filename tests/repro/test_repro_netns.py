"""The libc path's namespace child: a crash there is a crash (exit 1, with the child's
reason), while namespaces that cannot be made or set up are bad input (exit 2)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass

import pytest

from triage.errors import BadInput, TriageError
from triage.repro import netns
from triage.repro.dns_repro import run_dns_repro
from triage.repro.dns_workload import WorkloadOptions

from tests.net_helpers import PORT53_HOST

libc_ok, libc_reason = netns.available(net=False)
needs_namespaces = pytest.mark.skipif(not libc_ok, reason=f"libc path unavailable here: {libc_reason}")


@dataclass(frozen=True)
class OptionsFromANewerTriage(WorkloadOptions):
    """A request the child cannot read: what a parent and child of different versions would see."""

    sub_runs: int = 3


@needs_namespaces
def test_a_child_that_crashes_raises_a_crash_with_its_reason():
    options = OptionsFromANewerTriage(duration_s=1.0, resolver="127.0.0.1")
    with pytest.raises(netns.NamespaceChildFailed) as caught:
        netns.run_side_in_namespace("healthy", options, net=False)
    assert not isinstance(caught.value, TriageError)
    assert "exit status 3" in str(caught.value) and "TypeError" in str(caught.value)
    assert "sub_runs" in str(caught.value)


@pytest.mark.parametrize("status, stderr, kind, fragment", [
    (netns.SETUP_REFUSED, "namespace setup: mount /etc/resolv.conf: Operation not permitted\n",
     netns.NamespaceUnavailable, "not possible here: namespace setup: mount /etc/resolv.conf"),
    (1, "unshare: unshare failed: Operation not permitted\n", netns.NamespaceUnavailable,
     "not possible here: unshare: unshare failed: Operation not permitted"),
    (-9, "", netns.NamespaceChildFailed, "killed by SIGKILL"),
    (netns.CRASHED, "warning\nKeyError: 'profile'\n", netns.NamespaceChildFailed, "exit status 3): KeyError: 'profile'"),
    (1, "", netns.NamespaceChildFailed, "exit status 1): no message"),
])
def test_what_a_failed_child_means(status, stderr, kind, fragment):
    failure = netns._child_failure(status, stderr)
    assert type(failure) is kind and fragment in str(failure)
    assert isinstance(failure, BadInput) == (kind is netns.NamespaceUnavailable)


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="utf-8") as fh:
                    ppid = int(fh.read().rpartition(")")[2].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == pid:
                found.append(int(entry))
    return found


@needs_namespaces
def test_a_killed_namespace_child_is_exit_1_through_the_cli(port53_silent):
    # glibc in the child asks PORT53_HOST:53, which we hold and never answer: its first query
    # arriving says the child is running. Then the child is killed, as the OOM killer would.
    proc = subprocess.Popen([sys.executable, "-m", "triage", "repro", "dns", "--path", "libc", "--resolver",
                             PORT53_HOST, "--duration", "60", "--format", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "CI": "true"})
    try:
        port53_silent.settimeout(60)
        port53_silent.recvfrom(512)
        [child] = _children(proc.pid)
        os.kill(child, signal.SIGKILL)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1, err
    assert out == ""
    assert "NamespaceChildFailed: the namespace child was killed by SIGKILL" in err


def test_libc_path_that_cannot_be_had_is_bad_input_naming_why():
    with pytest.raises(netns.NamespaceUnavailable, match="glibc only talks to port 53.*--path wire avoids it"):
        run_dns_repro(["healthy"], WorkloadOptions(path="libc", resolver="127.0.0.1:5353", duration_s=1.0))
