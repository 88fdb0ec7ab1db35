"""`triage repro dns` from end to end: check everything, choose the path, run each profile
as one side, save the snapshots."""

from __future__ import annotations

from typing import Sequence

from triage.errors import BadInput
from triage.resolvconf import DNS_PORT, ResolvConf, read_system_resolv_conf

from . import netns
from .dns_profile import FaultProfile, parse_profile
from .dns_report import ReproReport, save_snapshots
from .snapshot_files import check_save_dir
from .dns_sides import profile_conf, run_embedded_side, run_external_side
from .dns_workload import SideResult, WorkloadOptions
from .progress import ReproProgress, SilentReproProgress


_WIRE_STUB = "wire stub (triage's DNS client)"


def choose_path(options: WorkloadOptions) -> tuple[str, str]:
    """(path, why) for the requested --path on this machine."""
    if options.system:
        # No namespace needed: the machine's own resolv.conf is the point.
        return ("wire", f"{_WIRE_STUB} reading this machine's resolv.conf") if options.path == "wire" else \
            ("libc", "glibc getaddrinfo with this machine's /etc/resolv.conf")
    if options.resolver:
        _, port = options.resolver_address()
        if options.path == "wire":
            return "wire", f"{_WIRE_STUB} to {options.resolver}"
        usable, reason = netns.available(net=False)
        if port != DNS_PORT:
            reason = f"glibc only talks to port 53, --resolver names port {port}"
            usable = False
        if usable:
            return "libc", "glibc getaddrinfo in a private mount namespace with a generated resolv.conf"
        if options.path == "libc":
            raise netns.NamespaceUnavailable(reason)
        return "wire", f"{_WIRE_STUB} (libc path unavailable: {reason})"
    if options.path == "wire":
        return "wire", f"{_WIRE_STUB} to the embedded server on loopback"
    usable, reason = netns.available(net=True)
    if usable:
        return "libc", ("glibc getaddrinfo in a private network+mount namespace; embedded server on "
                        "127.0.0.1:53; generated resolv.conf bind-mounted over /etc/resolv.conf")
    if options.path == "libc":
        raise netns.NamespaceUnavailable(reason)
    return "wire", _wire_fallback(options, reason)


def _wire_fallback(options: WorkloadOptions, reason: str) -> str:
    where = f"to {options.resolver}" if options.resolver else "to the embedded server"
    return f"{_WIRE_STUB} {where} (libc path unavailable: {reason})"


def external_conf(options: WorkloadOptions, profile: FaultProfile) -> tuple[ResolvConf, int]:
    """(resolv.conf, port) of a side against a real resolver: --system reads this machine's
    the way the dns probes do (TRIAGE_RESOLV_CONF, LOCALDOMAIN, RES_OPTIONS); --resolver
    takes the profile's client settings with that address."""
    if options.system:
        conf, _, _ = read_system_resolv_conf()
        return conf, DNS_PORT
    host, port = options.resolver_address()
    return profile_conf(profile, host), port


def _run_side(spec: str, profile: FaultProfile, options: WorkloadOptions, path: str,
              progress: ReproProgress) -> SideResult:
    external = bool(options.resolver or options.system)
    if not external:
        if path == "libc":
            return netns.run_side_in_namespace(spec, options, net=True, progress=progress)
        return run_embedded_side(spec, options, "wire", progress=progress)
    if path == "libc" and options.resolver:
        return netns.run_side_in_namespace(spec, options, net=False, progress=progress)
    conf, port = external_conf(options, profile)
    return run_external_side(spec, options, path, conf, port, progress)


def run_dns_repro(profile_specs: Sequence[str], options: WorkloadOptions,
                  progress: ReproProgress | None = None, save_dir: str | None = None) -> ReproReport:
    """Run every profile as one side, on the path chosen for this machine; save snapshots.

    Under ``--path auto``, a namespace that turns out not to be allowed on the first side
    (netns.NamespaceUnavailable) falls back to the wire path, and the path detail says so.
    """
    options.validate()
    if not profile_specs:
        raise BadInput("expected a profile (--profile) or two (--compare A B)")
    profiles = [parse_profile(spec) for spec in profile_specs]  # every spec checked before any run
    if options.resolver or options.system:
        faulty = [p.spec for p in profiles if not p.healthy]
        if faulty:
            raise BadInput(f"profile {faulty[0]!r}: server faults need the embedded server; with --resolver or "
                           "--system only client settings (ndots, search, timeout, attempts) apply")
    path, detail = choose_path(options)
    progress = progress or SilentReproProgress()
    if save_dir:
        check_save_dir(save_dir)
    sides: list[SideResult] = []
    for index, (spec, profile) in enumerate(zip(profile_specs, profiles)):
        progress.side_started(index, len(profiles), profile.spec, options.duration_s)
        try:
            try:
                side = _run_side(spec, profile, options, path, progress)
            except netns.NamespaceUnavailable as exc:
                if options.path != "auto" or index > 0:
                    raise
                path, detail = "wire", _wire_fallback(options, exc.reason)
                side = _run_side(spec, profile, options, path, progress)
        finally:
            progress.side_done()
        side.profile = profile.spec
        sides.append(side)
    target = "system" if options.system else (f"resolver {options.resolver}" if options.resolver else "embedded")
    report = ReproReport(path, target, detail, sides, options)
    if save_dir:
        report.saved = save_snapshots(report, save_dir)
    return report
