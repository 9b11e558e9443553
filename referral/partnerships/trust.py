"""Trust signals shown with each possible partner in discovery: how fast a
business answers referrals, how often it accepts, how often accepted
referrals turn into won jobs.

Referrals hold that history and sit above partnerships, so they register the
computation here (referral/referrals/trust.py, listed in referral/domains.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import Session


@dataclass(frozen=True)
class TrustSignals:
    received: int
    acceptance_rate: float | None  # of answered referrals
    win_rate: float | None  # of accepted referrals that were decided
    median_answer_hours: float | None


TrustSource = Callable[[Session, list[int]], dict[int, TrustSignals]]

_SOURCES: list[TrustSource] = []


def trust_source(source: TrustSource) -> TrustSource:
    """Register the computation of signals for a list of business ids."""
    if source not in _SOURCES:
        _SOURCES.append(source)
    return source


def trust_signals(session: Session, business_ids: list[int]) -> dict[int, TrustSignals]:
    """Each business's signals; a business without any is left out."""
    signals: dict[int, TrustSignals] = {}
    for source in _SOURCES:
        signals.update(source(session, business_ids))
    return signals
