"""The packages probe against this machine's own dpkg, its documentation tree (or one the
test writes), and real processes for the bounded command reader."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from triage.config import Config
from triage.probes import ProbeContext, ProbeSkipped, measure
from triage.probes.package_parsers import MAX_ENTRIES, MAX_ENTRY_CHARS, Package
from triage.probes.packages import BoundedCommand, CommandFailed, _changelog_version, packages

DPKG = shutil.which("dpkg-query")
needs_dpkg = pytest.mark.skipif(DPKG is None and os.environ.get("CI") != "true",
                                reason="no dpkg-query on this machine (CI requires it)")


def ctx(**kw) -> ProbeContext:
    return ProbeContext(config=Config(), samples=1, deadline=time.monotonic() + 60, **kw)


def facts(measurements) -> dict:
    return {m.metric: m.value for m in measurements}


def dpkg_query(*args: str) -> str:
    return subprocess.run([DPKG, *args], capture_output=True, text=True, check=True, timeout=30).stdout


@needs_dpkg
def test_this_machines_dpkg_list_and_glibc_changelog():
    got = facts(measure(packages, None, ctx()))
    assert got["package_manager"] == "dpkg"
    installed = [line.split("\t") for line in dpkg_query("-W", "-f", "${Package}\t${Version}\t${db:Status-Abbrev}\n")
                 .splitlines()]
    assert set(got["packages"]) == {name for name, _, status in installed if status[1] == "i"}
    assert got["packages"]["dpkg"] == dpkg_query("-W", "-f", "${Version}", "dpkg")
    libc6 = dpkg_query("-W", "-f", "${Version}", "libc6")
    assert got["packages"]["libc6"] == libc6 and got["package_sources"]["libc6"] == "glibc"
    with gzip.open("/usr/share/doc/libc6/changelog.Debian.gz", "rt") as fh:
        header = fh.readline()
    glibc = got["changelogs"]["glibc"]
    assert header.startswith(f"glibc ({glibc[0]['version']})")
    assert 0 < len(glibc) <= MAX_ENTRIES and all(len(e["text"]) <= MAX_ENTRY_CHARS for e in glibc)
    assert "bash" not in got["changelogs"]  # only packages the mapping places in a layer are watched


def test_a_host_with_neither_rpm_nor_dpkg_is_skipped_with_the_reason(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    with pytest.raises(ProbeSkipped, match=r"no package manager: neither rpm nor dpkg-query is on the PATH \(.*/bin\)"):
        measure(packages, None, ctx(bin_path=str(empty)))


def test_triage_probe_on_such_a_host_records_the_probe_as_skipped(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {**os.environ, "PATH": str(empty), "CI": "true"}
    out = tmp_path / "s.json"
    done = subprocess.run([sys.executable, "-m", "triage", "probe", "--layers", "kernel", "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (result,) = [r for r in json.loads(out.read_text())["results"] if r["probe"] == "packages"]
    assert (result["layer"], result["status"]) == ("kernel", "skipped")
    assert result["error"] == f"no package manager: neither rpm nor dpkg-query is on the PATH ({empty})"
    assert "skipped kernel (packages): no package manager" in done.stderr


@needs_dpkg
def test_a_snapshot_never_carries_more_than_the_bound_per_package(tmp_path):
    # The live package list, and a glibc changelog of 1,000 releases of 2,000-character lines.
    doc = tmp_path / "doc" / "libc6"
    doc.mkdir(parents=True)
    blocks = [f"glibc (2.36-{i}) bookworm; urgency=medium\n\n  * {'overflowing ' * 170}{i}\n\n"
              f" -- Maintainer <m@example.org>  Mon, 27 Apr 2026 22:14:33 +0200\n\n" for i in range(1000, 0, -1)]
    with gzip.open(doc / "changelog.Debian.gz", "wt") as fh:
        fh.write("".join(blocks))
    got = facts(measure(packages, None, ctx(doc_root=str(tmp_path / "doc"))))
    glibc = got["changelogs"]["glibc"]
    assert len(glibc) == MAX_ENTRIES and glibc[0]["version"] == "2.36-1000"
    assert {len(e["text"]) for e in glibc} == {MAX_ENTRY_CHARS}
    # Every package's changelog within MAX_ENTRIES × (MAX_ENTRY_CHARS + its version and JSON keys).
    for entries in got["changelogs"].values():
        assert len(json.dumps(entries)) <= MAX_ENTRIES * (MAX_ENTRY_CHARS * 6 + 250)  # \uXXXX at worst


@needs_dpkg
def test_an_unreadable_changelog_is_noted_and_the_probe_goes_on(tmp_path):
    doc = tmp_path / "doc" / "libc6"
    doc.mkdir(parents=True)
    (doc / "changelog.Debian.gz").write_bytes(b"\x1f\x8b\x08\x00 not really gzip")
    c = ctx(doc_root=str(tmp_path / "doc"))
    got = facts(measure(packages, None, c))
    assert "glibc" not in got["changelogs"] and got["packages"]
    assert any(n.startswith(f"{doc / 'changelog.Debian.gz'}: unreadable") for n in c.notes)
    # The other watched packages have no doc directory in this tree at all: said once.
    assert any(n.startswith(f"no Debian changelog under {tmp_path / 'doc'} for: ") for n in c.notes)


def test_bounded_command_stops_at_the_byte_bound_and_kills_the_process():
    call = BoundedCommand(["yes", "0123456789"], timeout_s=30, limit_bytes=100_000, env={"PATH": os.defpath})
    lines = list(call.lines())
    # 100,000 bytes are 9,090 whole lines of 11 bytes; the cut last one is not passed on.
    assert call.truncated and len(lines) == 100_000 // 11 and set(lines) == {"0123456789"}


def test_bounded_command_times_out_on_a_process_that_never_ends():
    call = BoundedCommand(["tail", "-f", "/dev/null"], timeout_s=0.3, limit_bytes=1000, env={"PATH": os.defpath})
    with pytest.raises(TimeoutError, match=r"tail: no end of output within 0.3s"):
        list(call.lines())


@needs_dpkg
def test_bounded_command_names_a_failing_command_and_its_error():
    call = BoundedCommand([DPKG, "-W", "no-such-package-here"], timeout_s=30, limit_bytes=1000,
                          env={"PATH": os.defpath, "LC_ALL": "C"})
    with pytest.raises(CommandFailed, match=r"dpkg-query exited with status 1: dpkg-query: no packages found "
                                            r"matching no-such-package-here"):
        list(call.lines())


def test_the_running_kernels_changelog_stands_for_kernels_installed_side_by_side():
    listed = [Package("kernel", "4.18.0-147.8.1.el8_1", "kernel"), Package("kernel", "4.18.0-147.13.2.el8_1", "kernel"),
              Package("kernel-core", "4.18.0-147.13.2.el8_1", "kernel")]
    names = ["kernel", "kernel-core"]
    assert _changelog_version(names, listed, "4.18.0-147.13.2.el8_1.x86_64") == ("kernel", "4.18.0-147.13.2.el8_1")
    assert _changelog_version(names, listed, "4.18.0-147.8.1.el8_1.x86_64") == ("kernel", "4.18.0-147.8.1.el8_1")


def test_captures_replay_without_a_host():
    from .captures import rhel_packages

    got = facts(rhel_packages("4.3.19").measurements)
    assert got["package_manager"] == "rpm" and got["packages"]["kernel-core"] == "4.18.0-147.13.2.el8_1"
    assert got["package_sources"]["glibc-langpack-en"] == "glibc" and "bash" not in got["package_sources"]
    assert [e["version"] for e in got["changelogs"]["kernel"][:2]] == ["4.18.0-147.13.2.el8_1"] * 2
