"""How a gate that samples until it decides got there (`triage gate --until-decided`), typed,
with its JSON: the rounds it ran, the share of α each was judged at, the probes and samples
each took, and the metrics that stayed undecided. Built by triage.sequential; carried by the
Comparison (``rounds``: additive in triage.comparison/v1, null for a one-round judgement).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from .formatting import plural

RULE = "halved each round, the last round what is left"
UNDECIDED_SHOWN = 8  # in the one-line summary; the JSON and the report's Rounds section list them all
STOPS = ("decided", "max rounds", "deadline", "the rest cannot decide in the rounds left")


@dataclass(frozen=True)
class Look:
    index: int  # 1-based
    share: float  # of the family-wise α this look was judged at
    probes: tuple[str, ...]  # layer.probe.target run in this round
    samples: int  # sample values this round's runs took
    decided: int  # metrics decided (regressed or ruled out) after this look
    undecided: int

    def to_dict(self) -> dict[str, Any]:
        return {"round": self.index, "share": self.share, "probes": list(self.probes), "samples": self.samples,
                "decided": self.decided, "undecided": self.undecided}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Look":
        return cls(int(d["round"]), float(d["share"]), tuple(str(p) for p in d.get("probes") or ()),
                   int(d.get("samples", 0)), int(d.get("decided", 0)), int(d.get("undecided", 0)))


@dataclass(frozen=True)
class Rounds:
    max_rounds: int
    looks: tuple[Look, ...]
    undecided: tuple[str, ...]  # metric ids (layer.probe.target.metric) still undecided at the end
    stopped: str  # one of STOPS
    decided_at: Mapping[str, int] = field(default_factory=dict)  # metric id -> the round that decided it
    rule: str = RULE

    @property
    def samples(self) -> int:
        return sum(look.samples for look in self.looks)

    def summary(self, alpha: float) -> str:
        """'3 of 4 rounds (stopped: decided), 1,240 samples (1,000 + 160 + 80); α = 0.01 spent as 0.005 + …'."""
        per = " + ".join(f"{look.samples:,}" for look in self.looks)
        spent = " + ".join(f"{alpha * look.share:.3g}" for look in self.looks)
        text = (f"{len(self.looks)} of {plural(self.max_rounds, 'round')} (stopped: {self.stopped}), "
                f"{self.samples:,} samples" + (f" ({per})" if len(self.looks) > 1 else "")
                + f"; α = {alpha:g} spent as {spent} ({self.rule})")
        if self.undecided:
            more = len(self.undecided) - UNDECIDED_SHOWN
            text += f"; still undecided: {', '.join(self.undecided[:UNDECIDED_SHOWN])}" + \
                (f" and {more} more" if more > 0 else "")
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"max_rounds": self.max_rounds, "rounds": len(self.looks), "samples": self.samples,
                "looks": [look.to_dict() for look in self.looks], "undecided": list(self.undecided),
                "stopped": self.stopped, "decided_at": dict(self.decided_at), "rule": self.rule}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "Rounds | None":
        if d is None:
            return None
        return cls(int(d["max_rounds"]), tuple(Look.from_dict(x) for x in d.get("looks") or ()),
                   tuple(str(m) for m in d.get("undecided") or ()), str(d.get("stopped", "")),
                   {str(k): int(v) for k, v in (d.get("decided_at") or {}).items()}, str(d.get("rule", RULE)))
