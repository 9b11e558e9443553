"""The business a user works for, as far as auth needs it: its name (a
password may not contain it; an invitation names it) and a lock that
serialises its team's changes.

Businesses sit above auth (their pages use auth's `login_required`), so auth
does not import them: the businesses domain provides its `Workplace` at import
(referral/businesses/current.py, a `reactions` module in referral/domains.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sqlmodel import Session


class Named(Protocol):
    @property
    def name(self) -> str: ...


@dataclass(frozen=True)
class Workplace:
    find: Callable[[Session, int], Named | None]  # the business, None if there is none
    lock: Callable[[Session, int], None]  # until the transaction ends


_provided: list[Workplace] = []


def provide_workplace(workplace: Workplace) -> None:
    """Called once, by the businesses domain."""
    _provided[:] = [workplace]


def _workplace() -> Workplace:
    if not _provided:
        raise RuntimeError("No workplace provided: import referral.domains first.")
    return _provided[0]


def find_business(session: Session, business_id: int) -> Named | None:
    return _workplace().find(session, business_id)


def business_name(session: Session, business_id: int) -> str:
    """The business's name, or "" when there is none."""
    business = find_business(session, business_id)
    return business.name if business else ""


def lock_team(session: Session, business_id: int) -> None:
    """Serialise team changes of one business (a row lock on PostgreSQL;
    SQLite allows one writer anyway), so two owners demoting each other at
    once cannot leave the business without an owner."""
    _workplace().lock(session, business_id)
