"""The commissions a business earned (as referrer) and owes (as payer)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from referral.businesses.models import Business
from referral.commissions.models import Commission


@dataclass(frozen=True)
class CommissionRow:
    commission: Commission
    partner_name: str
    settled_cents: int

    @property
    def outstanding_cents(self) -> int:
        if self.commission.status in ("pending", "reversed"):
            return 0
        return self.commission.amount_cents - self.settled_cents


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
            r.commission.amount_cents for r in rows if r.commission.status == "pending"
        ),
        outstanding_cents=sum(r.outstanding_cents for r in rows),
        settled_cents=sum(r.settled_cents for r in rows),
    )
