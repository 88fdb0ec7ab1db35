"""Snapshots built from the recorded package captures (tests/fixtures/kernel/packages/) through
the probe's own parsers and measurement builder: what `triage probe` records on a RHEL 8 node
before (4.3.18) and after (4.3.19) the upgrade, without the node."""

from __future__ import annotations

from pathlib import Path

from triage.model import Measurement, ProbeResult, Snapshot
from triage.probes.package_parsers import parse_dpkg_list, parse_rpm_changelog, parse_rpm_list
from triage.probes.packages import package_measurements
from triage.probes.platform_components import component_measurements

from tests.kubernetes import kube_states as ks

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "kernel" / "packages"
KERNEL = {"4.3.18": "4.18.0-147.8.1.el8_1", "4.3.19": "4.18.0-147.13.2.el8_1"}
GLIBC = {"4.3.18": "2.28-101.el8", "4.3.19": "2.28-127.el8"}
TAKEN_AT = {"4.3.18": "2020-05-27T09:00:00Z", "4.3.19": "2020-05-27T11:00:00Z"}


def read(name: str) -> str:
    return (FIXTURES / name).read_text()


def rhel_packages(version: str) -> ProbeResult:
    """kernel.packages as a RHEL 8 node of OpenShift ``version`` records it."""
    changelogs = {"kernel": parse_rpm_changelog(read(f"rhel8-kernel-{KERNEL[version]}.changelog").splitlines()),
                  "glibc": parse_rpm_changelog(read(f"rhel8-glibc-{GLIBC[version]}.changelog").splitlines())}
    measurements = package_measurements("rpm", parse_rpm_list(read(f"rhel8-{version}.rpm-qa")), changelogs)
    return ProbeResult("kernel", "packages", "local", measurements=tuple(measurements))


def debian_packages(side: str) -> ProbeResult:
    measurements = package_measurements("dpkg", parse_dpkg_list(read(f"debian12-{side}.dpkg-query")), {})
    return ProbeResult("kernel", "packages", "local", measurements=tuple(measurements))


def components(version: str) -> ProbeResult:
    """kubernetes.platform_components of the recorded OpenShift objects at ``version``."""
    dns_image = ks.DNS_IMAGE_4318 if version == "4.3.18" else ks.DNS_IMAGE_4319
    daemonset = ks.load("daemonset-dns-default")
    daemonset["spec"]["template"]["spec"]["containers"][0]["image"] = dns_image
    workloads = [ks.released(name, version, dns_image) for _, name in ks.OPERATOR_WORKLOADS] + [daemonset]
    operators = [ks.released(name, version, dns_image) for name in ks.OPERATORS]
    measurements = component_measurements(ks.cluster_version(version), operators, workloads)
    return ProbeResult("kubernetes", "platform_components", "cluster", measurements=tuple(measurements))


def snapshot(label: str, *results: ProbeResult) -> Snapshot:
    return Snapshot(label, TAKEN_AT.get(label, "2020-05-27T10:00:00Z"), "ip-10-0-131-5", "0.1.0", tuple(results))


def fact(result: ProbeResult, metric: str):
    return next(m.value for m in result.measurements if m.metric == metric and isinstance(m, Measurement))
