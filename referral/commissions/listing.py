"""The commissions a business earned (as referrer) and owes (as payer)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import case, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from referral.businesses.models import Business
from referral.commissions.models import Commission, CommissionStatus
from referral.commissions.services import owed_cents
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


def commission_rows(
    session: Session, business_id: int, *, role: str, limit: int = 500
) -> list[CommissionRow]:
    """`role` "earned": commissions owed to the business; "owed": owed by it."""
    mine = Commission.referrer_id if role == "earned" else Commission.payer_id
    theirs = Commission.payer_id if role == "earned" else Commission.referrer_id
    partner = aliased(Business)
    rows = session.execute(
        select(Commission, partner.name)
        .join(partner, partner.id == theirs)
        .where(mine == business_id)
        .order_by(Commission.id.desc())
        .limit(limit)
    ).all()
    return [CommissionRow(c, name, c.settled_cents) for c, name in rows]


def totals(rows: list[CommissionRow]) -> Totals:
    return Totals(
        pending_cents=sum(
            r.commission.amount_cents
            for r in rows
            if r.commission.status == CommissionStatus.PENDING
        ),
        outstanding_cents=sum(r.outstanding_cents for r in rows),
        settled_cents=sum(r.settled_cents for r in rows),
    )


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
        .where(or_(Commission.referrer_id == business_id, Commission.payer_id == business_id))
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
