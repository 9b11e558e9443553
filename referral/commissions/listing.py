"""The commissions a business earned (as referrer) and owes (as payer)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from referral.businesses.models import Business
from referral.commissions.models import Commission, CommissionStatus, either_side_is
from referral.commissions.services import owed_cents
from referral.listing import ListPage, page_of
from referral.localtime import format_datetime
from referral.money import cents_to_decimal_text


@dataclass(frozen=True)
class CommissionRow:
    commission: Commission
    partner_name: str
    settled_cents: int

    @property
    def outstanding_cents(self) -> int:
        """As commissions.services.outstanding_cents, from the row's settled sum."""
        if self.commission.status == CommissionStatus.PENDING:
            return 0
        return owed_cents(self.commission) - self.settled_cents


@dataclass(frozen=True)
class Totals:
    pending_cents: int = 0
    outstanding_cents: int = 0
    settled_cents: int = 0


def _sides(role: str) -> tuple[Any, Any]:
    """(the business's side, the partner's side) of a commission it `role`."""
    if role == "earned":
        return Commission.referrer_id, Commission.payer_id
    return Commission.payer_id, Commission.referrer_id


def commission_page(session: Session, business_id: int, *, role: str) -> ListPage:
    """The page of commissions the request asks for (`?earned_page=`,
    `?earned_sort=` or the same with "owed_"), newest first unless sorted by
    date, value, status or partner. `role` "earned": owed to the business;
    "owed": owed by it."""
    mine, theirs = _sides(role)
    partner = aliased(Business)
    listing = page_of(
        session,
        select(Commission, partner.name)
        .join(partner, partner.id == theirs)
        .where(mine == business_id),
        sorts={
            "date": Commission.id,
            "value": Commission.amount_cents,
            "status": Commission.status,
            "partner": partner.name,
        },
        default="-date",
        tiebreak=Commission.id,
        page_arg=f"{role}_page",
        sort_arg=f"{role}_sort",
    )
    rows = [CommissionRow(c, name, c.settled_cents) for c, name in listing.items]
    return replace(listing, items=rows)


def commission_totals(session: Session, business_id: int, *, role: str) -> Totals:
    """In hold, waiting for a settlement, and settled, over all the business's
    commissions `role` (not one page of them), in one statement."""
    mine, _ = _sides(role)
    pending = Commission.status == CommissionStatus.PENDING
    reversed_ = Commission.status == CommissionStatus.REVERSED
    row = session.execute(
        select(
            func.coalesce(func.sum(case((pending, Commission.amount_cents), else_=0)), 0),
            func.coalesce(
                func.sum(
                    case(
                        (pending, 0),
                        (reversed_, -Commission.settled_cents),
                        else_=Commission.amount_cents - Commission.settled_cents,
                    )
                ),
                0,
            ),
            func.coalesce(func.sum(Commission.settled_cents), 0),
        ).where(mine == business_id)
    ).one()
    return Totals(*(int(v) for v in row))


EXPORT_HEADER = (
    "created",
    "role",
    "referral",
    "partner",
    "basis",
    "job value",
    "amount",
    "currency",
    "status",
    "settled",
)


def export_rows(session: Session, business_id: int) -> Iterator[tuple[object, ...]]:
    """Every commission earned or owed, oldest first, read a batch at a time
    (the commissions CSV), times in the business's zone."""
    partner = aliased(Business)
    result = session.execute(
        select(Commission, partner.name)
        .join(
            partner,
            partner.id
            == case(
                (Commission.referrer_id == business_id, Commission.payer_id),
                else_=Commission.referrer_id,
            ),
        )
        .where(either_side_is(business_id))
        .order_by(Commission.id)
        .execution_options(yield_per=1000)
    )
    for commission, name in result:
        yield (
            format_datetime(commission.created_at),
            "earned" if commission.referrer_id == business_id else "owed",
            commission.referral_id,
            name,
            commission.basis,
            cents_to_decimal_text(commission.base_cents),
            cents_to_decimal_text(commission.amount_cents),
            commission.currency,
            commission.status,
            cents_to_decimal_text(commission.settled_cents),
        )
