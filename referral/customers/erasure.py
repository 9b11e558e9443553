"""What other domains do when a business erases a customer.

Customers sit below consent and referrals, so they cannot call them; each
registers its part here instead (in a module `referral/domains.py` lists
under its `reactions`), and `erase_customer` calls every part in the same
session and transaction, stage by stage."""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum

from sqlmodel import Session

from referral.customers.models import Customer

ErasurePart = Callable[[Session, Customer], None]


class ErasureStage(IntEnum):
    """When a part runs. Within a stage, parts run in the order they registered."""

    CLOSE = 1  # close what is still open about the customer and tell the businesses
    FORGET = 2  # then forget the copies of their personal data kept elsewhere


_PARTS: dict[ErasureStage, list[ErasurePart]] = {stage: [] for stage in ErasureStage}


def on_erasure(stage: ErasureStage) -> Callable[[ErasurePart], ErasurePart]:
    """Register a part of erasure, called with (session, customer) once the
    customer's own fields are cleared."""

    def register(part: ErasurePart) -> ErasurePart:
        if part not in _PARTS[stage]:
            _PARTS[stage].append(part)
        return part

    return register


def run_erasure_parts(session: Session, customer: Customer) -> None:
    """Every registered part, stage by stage; what the CLOSE stage changed is
    flushed before the FORGET stage's bulk updates run."""
    for stage in ErasureStage:
        for part in _PARTS[stage]:
            part(session, customer)
        if stage is ErasureStage.CLOSE:
            session.flush()
