"""Spending a family-wise error rate over the looks of a gate that samples until it decides.

A gate that judges, probes again the metrics it could not decide, and judges again looks at
the data up to K times; judged at the full α every time, a null metric gets K chances to
cross the line (bench/adaptive_gates.py, 1,000 A/A gates at α = 0.05: 4 looks at the full α
raised 15 false alarms, one look 5, 4 looks with these shares 3). The rule here
is Bonferroni over the looks: look k is judged at α · s_k with the shares

    s_k = 1/2^k for k < K, and the last look takes what is left, 1/2^(K-1),

so 1/2, 1/2 for two looks; 1/2, 1/4, 1/4 for three; 1/2, 1/4, 1/8, 1/8 for four; Σ s_k = 1.
Within a look, Holm (weighted) over the metrics at α · s_k controls the family-wise rate at
that level; over the looks the rates add up to at most α, however the looks depend on each
other (the later ones pool the earlier runs). Most metrics decide at the first look, so it
gets the largest share: 1/2 instead of Pocock's 1/K.

The shares never increase, which makes a stale p-value safe: a metric whose probe was not run
again keeps its p-value at the next look, judged at a share no larger than the one its data
was first judged at; so each distinct pool of a metric's runs (its first run, its first two,
…) is tested at most at the share of the look that first saw it, and Σ over those is ≤ α.
An unfinished schedule (a gate that decided at look 2 of 4) spends less than α.
"""

from __future__ import annotations

MAX_LOOKS = 10  # the 10th look is judged at α/512: no sample size a gate can afford wins that


def look_shares(looks: int) -> tuple[float, ...]:
    """The share of α each of ``looks`` looks is judged at (see the module docstring)."""
    if not 1 <= looks <= MAX_LOOKS:
        raise ValueError(f"looks: expected 1 to {MAX_LOOKS}, got {looks}")
    return tuple(2.0 ** -k for k in range(1, looks)) + (2.0 ** -(looks - 1),)
