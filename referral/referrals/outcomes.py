"""What other domains do when a referral reaches an outcome, and what they
add to the referral's page.

Referrals sit below the money domains, so they cannot call them; commissions
(for one) registers here instead, in a module `referral/domains.py` lists
under its `reactions`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from sqlmodel import Session

from referral.referrals.models import Referral

Outcome = Literal["accepted", "won"]
OutcomeSubscriber = Callable[[Session, Referral, Outcome], None]
PageExtra = Callable[[Session, Referral], dict[str, Any]]

_SUBSCRIBERS: list[OutcomeSubscriber] = []
_PAGE_EXTRAS: list[PageExtra] = []


def on_outcome(subscriber: OutcomeSubscriber) -> OutcomeSubscriber:
    """Register a subscriber, called in the session and transaction that moved
    the referral, after the move and before the sender is notified; in the
    order they registered."""
    if subscriber not in _SUBSCRIBERS:
        _SUBSCRIBERS.append(subscriber)
    return subscriber


def reached(session: Session, referral: Referral, outcome: Outcome) -> None:
    for subscriber in _SUBSCRIBERS:
        subscriber(session, referral, outcome)


def page_extra(extra: PageExtra) -> PageExtra:
    """Register what a domain adds to the referral page's template context."""
    if extra not in _PAGE_EXTRAS:
        _PAGE_EXTRAS.append(extra)
    return extra


def page_extras(session: Session, referral: Referral) -> dict[str, Any]:
    context: dict[str, Any] = {}
    for extra in _PAGE_EXTRAS:
        context.update(extra(session, referral))
    return context
