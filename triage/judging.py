"""How to judge, as the user asked: the store labels come from, the budget, the family-wise α,
--require-decided and the acks file. One frozen value built by the command, carried through the
engine and into the commands that rerun it (triage.rerun), so a new judging option is one field
here rather than one more keyword on every entry point.
"""

from __future__ import annotations

from dataclasses import dataclass

from .acks import Acks, load_acks
from .budget import Budget, load_budget
from .judge import check_alpha
from .verdict import DEFAULT_ALPHA


@dataclass(frozen=True)
class Judging:
    store: str | None = None  # --store (None: $TRIAGE_STORE, else ./baselines)
    budget: str | None = None  # --budget FILE
    alpha: float = DEFAULT_ALPHA  # --alpha, family-wise
    require_decided: bool = False  # --require-decided
    acks: str | None = None  # --acks FILE

    def load(self) -> tuple[Budget, Acks]:
        """Refuse what is bad (α, the budget and acks files) before any work; the files read."""
        check_alpha(self.alpha)
        return load_budget(self.budget), load_acks(self.acks)
