"""What changed between two versions, layer by layer: packages, changelog entries, platform
components. The one place this is computed: `triage changes` shows it, and the comparison
puts each layer's changes first in its suspect's evidence (triage.attribution) and in the
report's "What changed". Pure: snapshots in, a ChangeSet out; it judges nothing.

Where the changes come from (facts in the snapshots):
- ``kernel.packages``: ``packages``, ``package_sources``, ``changelogs`` (triage/probes/packages.py);
- ``kubernetes.platform_components``: ClusterVersion, ClusterOperators, operator workload images;
- ``kubernetes.nodes``: kubelet, container runtime, OS image and kernel versions of the nodes;
- ``kubernetes.cluster_dns``: the DNS image, when the components were not read on both sides.

Which layer a change belongs to: the first rule whose glob matches its name, the budget
file's ``changes:`` rules before DEFAULT_RULES; nothing matched is OTHER. Package names are
matched binary by binary, then by their source package (systemd-resolved is dns, the rest of
systemd is not); components by ``clusterversion``, ``clusteroperator/<name>``,
``image/<namespace>/<workload>``, ``node/kubelet|container-runtime|os-image|kernel``.

A package's new changelog entries are the candidate's, newest first, down to the first one
the baseline also recorded or that belongs to the baseline's version; when that boundary is
not within what was recorded (the probe keeps the newest 100) the count is a lower bound.
Entries tagged ``[net…]`` (RHEL's ``[net]``, ``[netdrv]``, ``[netfilter]``) are counted as
networking and listed first.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from . import strictjson
from .formatting import plural
from .layers import LAYERS, rank
from .model import Snapshot

SCHEMA = "triage.changes/v1"
OTHER = "other"
CHANGE_LAYERS = (*LAYERS, OTHER)
SUMMARY_LIMIT = 4  # changes named in one layer's sentence of a suspect's evidence; the rest counted
ENTRIES_SHOWN = 5  # "the first few": new changelog entries a view lists per change (JSON has them all)

PACKAGES = ("kernel", "packages")
COMPONENTS = ("kubernetes", "platform_components")
NODES = ("kubernetes", "nodes")
CLUSTER_DNS = ("kubernetes", "cluster_dns")
_CONSUMED = (PACKAGES, COMPONENTS)  # probes whose facts are only read through the change set

# Node facts of the kubernetes.nodes probe → (component name, how it reads).
NODE_COMPONENTS = (("kubelet_versions", "node/kubelet", "kubelet"),
                   ("container_runtimes", "node/container-runtime", "container runtime"),
                   ("os_images", "node/os-image", "node OS image"),
                   ("kernel_versions", "node/kernel", "node kernel"))


@dataclass(frozen=True)
class ChangeRule:
    """``{match: glob, layer: name}``: changes whose name matches belong to ``layer``."""

    match: str
    layer: str
    line: int | None = None  # in the budget file


def _rules(**by_layer: tuple[str, ...]) -> tuple[ChangeRule, ...]:
    return tuple(ChangeRule(glob, layer) for layer, globs in by_layer.items() for glob in globs)


# First match wins, so the specific images (openshift-dns, the ovs daemonset) precede image/*.
# RHEL and Debian names side by side (NetworkManager, network-manager; glibc, libc6).
DEFAULT_RULES: tuple[ChangeRule, ...] = _rules(
    kernel=("kernel", "kernel-*", "linux", "linux-image-*", "linux-modules-*", "linux-signed-*", "linux-firmware",
            "firmware-*", "*-firmware", "iptables*", "nftables*", "libnftnl*", "NetworkManager*", "network-manager*",
            "openvswitch*", "conntrack*", "libnetfilter-conntrack*", "iproute*", "ethtool", "node/kernel",
            "image/openshift-sdn/ovs"),
    # glibc holds the stub resolver (getaddrinfo, res_*); name-service-switch modules answer
    # hosts: lookups (CoreOS's nss-altfiles, Debian's libnss-*). RHEL's nss, nss-util and
    # nss-softokn are Mozilla's crypto library, not the name service switch: they stay "other".
    dns=("glibc", "glibc-*", "libc6", "libc6-*", "libc-bin", "nss-altfiles", "nss-mdns*", "nss_wrapper",
         "nss-myhostname", "libnss-*", "sssd-client", "systemd-resolved",
         "dnsmasq*", "clusteroperator/dns", "image/openshift-dns/*", "image/openshift-dns-operator/*",
         "image/cluster-dns"),
    kubernetes=("kubelet*", "openshift-hyperkube*", "cri-o*", "cri-tools*", "runc", "conmon", "clusterversion",
                "clusteroperator/*", "image/*", "node/*"),
    database=("postgresql*", "libpq*"),
)


@functools.lru_cache(maxsize=16)
def _matcher(rules: tuple[ChangeRule, ...]) -> tuple[Callable[[str], re.Match | None], tuple[str, ...]]:
    """All rules as one regex, tried in order: a host lists ~1,000 packages and the table holds
    ~60 globs, so one match per name rather than 60 (50 ms → 3 ms of the packages probe here)."""
    alternatives = "|".join(f"(?P<r{i}>{fnmatch.translate(rule.match)})" for i, rule in enumerate(rules))
    return re.compile(alternatives).match, tuple(rule.layer for rule in rules)


def layer_of(name: str, rules: Sequence[ChangeRule] = ()) -> str:
    match, layers = _matcher((*rules, *DEFAULT_RULES))
    m = match(name)
    return layers[int(m.lastgroup[1:])] if m and m.lastgroup else OTHER


def watched_package(name: str) -> bool:
    """Does the built-in mapping place this package in a layer? (The probe reads their changelogs.)"""
    return layer_of(name) != OTHER


def is_change_fact(layer: str, probe: str) -> bool:
    """Facts read only through the change set: never evidence of their own."""
    return (layer, probe) in _CONSUMED


# ---------------------------------------------------------------- the result


_TAG = re.compile(r"^\[([^\]\s]+)\]")


@dataclass(frozen=True)
class ChangelogEntry:
    version: str
    text: str

    @property
    def tag(self) -> str | None:
        """The subsystem tag of a RHEL kernel entry: ``net`` of ``[net] sched: …``."""
        m = _TAG.match(self.text)
        return m[1] if m else None

    @property
    def networking(self) -> bool:
        return (self.tag or "").lower().startswith("net")

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "text": self.text, "tag": self.tag, "networking": self.networking}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ChangelogEntry":
        return cls(str(d.get("version", "")), str(d.get("text", "")))


@dataclass(frozen=True)
class Change:
    """One package (with the binaries built with it) or platform component that differs."""

    layer: str
    kind: str  # package | platform | operator | image | node
    name: str  # what the mapping matched and how it reads: glibc, dns operator, dns-default image
    old: str | None  # None: added
    new: str | None  # None: removed
    source: str  # layer.probe.target.metric of the fact it was read from
    members: tuple[str, ...] = ()  # binaries of a source package, containers of a workload, operands
    entries: tuple[ChangelogEntry, ...] = ()  # new since the baseline's version, networking first
    new_entries: int = 0
    exact: bool = True  # False: the baseline's version lies beyond what was recorded (a lower bound)

    @property
    def status(self) -> str:
        return "added" if self.old is None else "removed" if self.new is None else "changed"

    @property
    def networking_entries(self) -> int:
        return sum(e.networking for e in self.entries)

    def entry_counts(self) -> str:
        """'4 new changelog entries', 'at least 100 …, 12 networking'; '' when none."""
        if not self.new_entries:
            return ""
        n = self.new_entries
        what = "update history" if self.kind == "platform" else "changelog"  # ClusterVersion's history
        text = f"{'' if self.exact else 'at least '}{plural(n, f'new {what} entry', f'new {what} entries')}"
        return text + (f", {self.networking_entries} networking" if self.networking_entries else "")

    def summary(self) -> str:
        """How the change reads in a sentence: 'glibc 2.28-101.el8 → 2.28-127.el8 (4 new changelog entries)'."""
        if self.kind == "image":
            several = len(self.members) > 1
            text = f"{self.name}{'s' if several else ''} {self.status}"
            return text + (f" ({', '.join(self.members)})" if several else "")
        if self.status == "added":
            text = f"{self.name} {self.new} added"
        elif self.status == "removed":
            text = f"{self.name} {self.old} removed"
        elif self.old == self.new:
            text = f"{self.name} {self.old} changed"  # same version, other parts (a release image) moved
        else:
            text = f"{self.name} {self.old} → {self.new}"
        details = [self.entry_counts()] if self.new_entries else []
        if self.kind == "operator" and self.members:
            details.append(f"{', '.join(self.members)} changed")
        return text + (f" ({'; '.join(d for d in details if d)})" if any(details) else "")

    def to_dict(self) -> dict[str, Any]:
        return {"layer": self.layer, "kind": self.kind, "name": self.name, "status": self.status, "old": self.old,
                "new": self.new, "source": self.source, "members": list(self.members),
                "new_entries": self.new_entries, "networking_entries": self.networking_entries, "exact": self.exact,
                "entries": [e.to_dict() for e in self.entries], "summary": self.summary()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Change":
        return cls(str(d["layer"]), str(d["kind"]), str(d["name"]), d.get("old"), d.get("new"), str(d.get("source", "")),
                   tuple(str(m) for m in d.get("members") or ()),
                   tuple(ChangelogEntry.from_dict(e) for e in d.get("entries") or ()), int(d.get("new_entries", 0)),
                   bool(d.get("exact", True)))


@dataclass(frozen=True)
class ChangeSet:
    """Every change between a baseline and a candidate, grouped by layer in stack order."""

    baseline: str = ""
    candidate: str = ""
    changes: tuple[Change, ...] = ()
    notes: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()  # layer.probe read on both sides

    def nothing(self) -> str:
        """What to say when no change is listed."""
        if self.sources:
            return f"Nothing differs in {', '.join(self.sources)}."
        return ("Neither side recorded packages (kernel.packages) or platform components "
                "(kubernetes.platform_components, kubernetes.nodes) on both sides: nothing to compare.")

    def layers(self) -> list[str]:
        """Layers with changes, bottom of the stack first, OTHER last."""
        return sorted({c.layer for c in self.changes}, key=lambda layer: (layer == OTHER, rank(layer), layer))

    def in_layer(self, layer: str) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.layer == layer)

    def sentence(self, layer: str, limit: int = SUMMARY_LIMIT) -> str:
        """'glibc 2.28-101.el8 → 2.28-127.el8 (4 new changelog entries), dns-default image changed'."""
        mine = self.in_layer(layer)
        text = ", ".join(c.summary() for c in mine[:limit])
        return text + (f", and {len(mine) - limit} more" if len(mine) > limit else "")

    def to_dict(self) -> dict[str, Any]:
        """``layers`` in order (bottom of the stack first, other last), ``changes`` in that order."""
        layers = self.layers()
        return {"schema": SCHEMA, "baseline": self.baseline, "candidate": self.candidate, "layers": layers,
                "changes": [c.to_dict() for layer in layers for c in self.in_layer(layer)],
                "notes": list(self.notes), "sources": list(self.sources)}

    def to_json(self) -> str:
        return strictjson.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, d: Any) -> "ChangeSet":
        if not isinstance(d, dict):
            return cls()
        changes = tuple(Change.from_dict(c) for c in d.get("changes") or ())
        return cls(str(d.get("baseline", "")), str(d.get("candidate", "")), changes,
                   tuple(str(n) for n in d.get("notes") or ()), tuple(str(n) for n in d.get("sources") or ()))


# ---------------------------------------------------------------- reading a side


@dataclass
class _Side:
    """One side's facts per (layer, probe): its newest run's ok result of each, and why not."""

    name: str
    facts: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    ids: dict[tuple[str, str], str] = field(default_factory=dict)  # layer.probe.target of the facts
    why_not: dict[tuple[str, str], str] = field(default_factory=dict)
    disagree: set[tuple[str, str]] = field(default_factory=set)

    def id(self, probe: tuple[str, str], metric: str) -> str:
        return f"{self.ids.get(probe, '.'.join(probe) + '.?')}.{metric}"


def _read_side(name: str, snapshots: Sequence[Snapshot]) -> _Side:
    side = _Side(name)
    newest: dict[tuple[str, str], str] = {}
    wanted = (*_CONSUMED, NODES, CLUSTER_DNS)
    for snap in snapshots:
        for r in snap.results:
            key = (r.layer, r.probe)
            if key not in wanted:
                continue
            if r.status != "ok":
                side.why_not.setdefault(key, f"{r.status}: {r.error or r.status}")
                continue
            values = {m.metric: m.value for m in r.measurements if m.kind == "fact"}
            if key in side.facts and values != side.facts[key]:
                side.disagree.add(key)
            if key not in newest or snap.taken_at >= newest[key]:
                newest[key], side.facts[key], side.ids[key] = snap.taken_at, values, f"{r.layer}.{r.probe}.{r.target}"
    return side


def _text(value: Any) -> str | None:
    """A fact's value as one string (node facts are "a, b"; older snapshots kept lists)."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# ---------------------------------------------------------------- packages


def _version_matches(entry_version: str, installed: str) -> bool:
    """Is a changelog entry of the installed version? RPM changelogs leave out the dist tag
    (2.28-127 for 2.28-127.el8), a Debian binNMU's version adds +bN to its source's (5.2.15-2+b8
    for 5.2.15-2); several installed versions are "a, b"."""
    def bare(v: str) -> str:
        return v.split(":", 1)[1] if re.match(r"^\d+:", v) else v

    entry = bare(entry_version.strip())
    if not entry:
        return False
    for version in installed.split(", "):
        v = bare(version.strip())
        if v == entry or v.startswith(entry + ".") or v.startswith(entry + "+"):
            return True
    return False


def _entries(raw: Any) -> list[ChangelogEntry]:
    return [ChangelogEntry(str(e.get("version", "")), str(e.get("text", ""))) for e in raw or () if isinstance(e, dict)]


def new_entries(baseline: Sequence[ChangelogEntry], candidate: Sequence[ChangelogEntry],
                baseline_version: str) -> tuple[list[ChangelogEntry], bool]:
    """(the candidate's entries newer than the baseline's version, whether the boundary was found)."""
    known = {(e.version, e.text) for e in baseline}
    for i, e in enumerate(candidate):
        if (e.version, e.text) in known or _version_matches(e.version, baseline_version):
            return list(candidate[:i]), True
    return list(candidate), False


def _package_changes(a: _Side, b: _Side, rules: Sequence[ChangeRule]) -> list[Change]:
    fa, fb = a.facts.get(PACKAGES, {}), b.facts.get(PACKAGES, {})
    pa, pb = _mapping(fa.get("packages")), _mapping(fb.get("packages"))
    sources = {**_mapping(fa.get("package_sources")), **_mapping(fb.get("package_sources"))}
    groups: dict[tuple[str, str], list[str]] = {}
    for name in sorted(set(pa) | set(pb)):
        if pa.get(name) == pb.get(name):
            continue
        source = str(sources.get(name, name))
        layer = layer_of(name, rules)
        layer = layer if layer != OTHER else layer_of(source, rules)
        groups.setdefault((source, layer), []).append(name)
    logs_a, logs_b = _mapping(fa.get("changelogs")), _mapping(fb.get("changelogs"))
    out = []
    for (source, layer), members in groups.items():
        old = ", ".join(sorted({str(pa[m]) for m in members if m in pa})) or None
        new = ", ".join(sorted({str(pb[m]) for m in members if m in pb})) or None
        entries: list[ChangelogEntry] = []
        exact = True
        if old is not None and new is not None and source in logs_b:
            entries, exact = new_entries(_entries(logs_a.get(source)), _entries(logs_b[source]), old)
        entries.sort(key=lambda e: not e.networking)  # stable: newest first within each group
        name = source if len(members) > 1 or source in members else members[0]
        out.append(Change(layer, "package", name, old, new, b.id(PACKAGES, "packages") if new else
                          a.id(PACKAGES, "packages"), tuple(members), tuple(entries), len(entries), exact))
    return out


# ---------------------------------------------------------------- platform components


def _differs(kind: str, name: str, title: str, old: Any, new: Any, source: str, rules: Sequence[ChangeRule],
             **extra: Any) -> list[Change]:
    old_text, new_text = _text(old), _text(new)
    if old_text == new_text:
        return []
    return [Change(layer_of(name, rules), kind, title, old_text, new_text, source, **extra)]


def _component_changes(a: _Side, b: _Side, rules: Sequence[ChangeRule]) -> list[Change]:
    out: list[Change] = []
    if COMPONENTS in a.facts and COMPONENTS in b.facts:
        fa, fb = a.facts[COMPONENTS], b.facts[COMPONENTS]
        source = b.id(COMPONENTS, "desired_version")
        history = [h for h in fb.get("history") or () if h not in (fa.get("history") or ())]
        entries = tuple(ChangelogEntry("", str(h)) for h in history)  # each line names its version
        version_a, version_b = fa.get("desired_version"), fb.get("desired_version")
        if version_a != version_b or fa.get("desired_image") != fb.get("desired_image"):
            out.append(Change(layer_of("clusterversion", rules), "platform", "OpenShift", _text(version_a),
                              _text(version_b), source, (), entries, len(entries)))
        ops_a, ops_b = _mapping(fa.get("cluster_operators")), _mapping(fb.get("cluster_operators"))
        for op in sorted(set(ops_a) | set(ops_b)):
            va, vb = ops_a.get(op), ops_b.get(op)
            if va == vb:
                continue
            va, vb = _mapping(va) if va is not None else None, _mapping(vb) if vb is not None else None
            moved = sorted(k for k in set(va or {}) | set(vb or {})
                           if k != "operator" and (va or {}).get(k) != (vb or {}).get(k))
            old = None if va is None else va.get("operator", ", ".join(f"{k} {v}" for k, v in sorted(va.items())))
            new = None if vb is None else vb.get("operator", ", ".join(f"{k} {v}" for k, v in sorted(vb.items())))
            out.append(Change(layer_of(f"clusteroperator/{op}", rules), "operator", f"{op} operator", _text(old),
                              _text(new), b.id(COMPONENTS, "cluster_operators"), tuple(moved)))
        out += _image_changes(_mapping(fa.get("images")), _mapping(fb.get("images")),
                              b.id(COMPONENTS, "images"), rules)
    elif CLUSTER_DNS in a.facts and CLUSTER_DNS in b.facts:
        ia, ib = a.facts[CLUSTER_DNS].get("image"), b.facts[CLUSTER_DNS].get("image")
        out += _differs("image", "image/cluster-dns", "cluster DNS image", ia, ib, b.id(CLUSTER_DNS, "image"), rules,
                        members=("image",))
    if NODES in a.facts and NODES in b.facts:
        for metric, name, title in NODE_COMPONENTS:
            out += _differs("node", name, title, a.facts[NODES].get(metric), b.facts[NODES].get(metric),
                            b.id(NODES, metric), rules)
    return out


def _image_changes(a: Mapping[str, Any], b: Mapping[str, Any], source: str, rules: Sequence[ChangeRule]) -> list[Change]:
    """One change per workload ("openshift-dns/dns-default") whose container images moved."""
    out = []
    for workload in sorted(set(a) | set(b)):
        ca, cb = _mapping(a.get(workload)), _mapping(b.get(workload))
        moved = sorted(c for c in set(ca) | set(cb) if ca.get(c) != cb.get(c))
        if not moved:
            continue
        old = "; ".join(f"{c}: {ca[c]}" for c in moved if c in ca) or None
        new = "; ".join(f"{c}: {cb[c]}" for c in moved if c in cb) or None
        title = f"{workload.rsplit('/', 1)[-1]} image"
        out.append(Change(layer_of(f"image/{workload}", rules), "image", title, old, new, source, tuple(moved)))
    return out


# ---------------------------------------------------------------- the whole set


_KIND_ORDER = {"platform": 0, "package": 1, "node": 2, "operator": 3, "image": 4}


def _notes(a: _Side, b: _Side) -> list[str]:
    notes = []
    for key, what in ((PACKAGES, "packages"), (COMPONENTS, "platform components")):
        have = [side for side in (a, b) if key in side.facts]
        if len(have) == 1:
            (missing,) = [side for side in (a, b) if key not in side.facts]
            why = missing.why_not.get(key, "not probed")
            notes.append(f"{what} only on the {have[0].name} side; the {missing.name} side's "
                         f"{'.'.join(key)}: {why}")
    for side in (a, b):
        for key in sorted(side.disagree):
            notes.append(f"the {side.name} side's runs differ in {'.'.join(key)}: its newest run's are used")
    return notes


def diff(baseline: Sequence[Snapshot], candidate: Sequence[Snapshot], rules: Sequence[ChangeRule] = (), *,
         baseline_title: str = "", candidate_title: str = "") -> ChangeSet:
    """Everything that changed from ``baseline``'s runs to ``candidate``'s, each in its layer."""
    a, b = _read_side("baseline", baseline), _read_side("candidate", candidate)
    changes = _package_changes(a, b, rules) + _component_changes(a, b, rules)
    # The most eventful first within a kind: the kernel with its networking entries before iproute.
    changes.sort(key=lambda c: (_KIND_ORDER.get(c.kind, 9), -c.networking_entries, -c.new_entries, c.name))
    both = tuple(".".join(key) for key in (PACKAGES, COMPONENTS, NODES, CLUSTER_DNS)
                 if key in a.facts and key in b.facts)
    return ChangeSet(baseline_title or _title(baseline), candidate_title or _title(candidate), tuple(changes),
                     tuple(_notes(a, b)), both)


def _title(snapshots: Iterable[Snapshot]) -> str:
    return ", ".join(dict.fromkeys(s.label for s in snapshots))

