"""A seller's quality, from what buyers reported and disputed: the share of
leads the buyer could contact, the share disputed and upheld, and the share
won. Shown in every preview; a seller whose dispute rate passes the threshold
lists no more leads until the operator reviews it."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import case, func
from sqlmodel import Session, select

from referral.leads.models import (
    PAID_FOR,
    DisputeStatus,
    Lead,
    LeadDispute,
    LeadPurchase,
    SellerSuspension,
)
from referral.money import Rate

SUSPEND_AT_DISPUTE_BPS = 3000  # 30% of sales upheld as bad...
SUSPEND_AFTER_SALES = 5  # ...once there are enough sales to judge


@dataclass(frozen=True)
class SellerQuality:
    sales: int
    reported: int
    contacted: int
    won: int
    disputes_upheld: int

    @property
    def contact_rate(self) -> Rate:
        return Rate(self.contacted, self.reported)

    @property
    def win_rate(self) -> Rate:
        return Rate(self.won, self.reported)

    @property
    def dispute_rate(self) -> Rate:
        return Rate(self.disputes_upheld, self.sales)

    @property
    def score(self) -> int | None:
        """0-100: contact rate and win rate, less twice the dispute rate; None
        until buyers have reported on three leads."""
        if self.reported < 3:
            return None
        contact = self.contacted / self.reported
        win = self.won / self.reported
        disputed = self.disputes_upheld / self.sales if self.sales else 0
        return max(0, min(100, round(100 * (0.6 * contact + 0.4 * win - 2 * disputed))))


def seller_quality(session: Session, seller_id: int) -> SellerQuality:
    return sellers_quality(session, {seller_id})[seller_id]


def sellers_quality(session: Session, seller_ids: Collection[int]) -> dict[int, SellerQuality]:
    """Each seller's record as buyers reported it: two statements for any number."""
    if not seller_ids:
        return {}
    rows = session.execute(
        select(
            Lead.seller_id,
            func.count(),
            func.sum(case((LeadPurchase.outcome.is_not(None), 1), else_=0)),
            func.sum(case((LeadPurchase.outcome.in_(("contacted", "won", "lost")), 1), else_=0)),
            func.sum(case((LeadPurchase.outcome == "won", 1), else_=0)),
        )
        .join(Lead, Lead.id == LeadPurchase.lead_id)
        .where(Lead.seller_id.in_(seller_ids), LeadPurchase.status.in_(PAID_FOR))
        .group_by(Lead.seller_id)
    ).all()
    upheld = dict(
        session.execute(
            select(LeadDispute.seller_id, func.count())
            .where(
                LeadDispute.seller_id.in_(seller_ids), LeadDispute.status == DisputeStatus.UPHELD
            )
            .group_by(LeadDispute.seller_id)
        ).all()
    )
    counts = {row[0]: [int(v or 0) for v in row[1:]] for row in rows}
    return {
        seller_id: SellerQuality(
            *counts.get(seller_id, [0, 0, 0, 0]), int(upheld.get(seller_id, 0))
        )
        for seller_id in seller_ids
    }


def suspended(session: Session, seller_id: int) -> bool:
    return (
        session.exec(
            select(SellerSuspension.id).where(
                SellerSuspension.business_id == seller_id, SellerSuspension.reviewed_at.is_(None)
            )
        ).first()
        is not None
    )


def check_threshold(session: Session, seller_id: int) -> bool:
    """Suspend the seller when its dispute rate passes the threshold; True if it did."""
    quality = seller_quality(session, seller_id)
    if quality.sales < SUSPEND_AFTER_SALES or suspended(session, seller_id):
        return False
    rate_bps = quality.disputes_upheld * 10_000 // quality.sales
    if rate_bps < SUSPEND_AT_DISPUTE_BPS:
        return False
    session.add(SellerSuspension(business_id=seller_id, dispute_rate_bps=rate_bps))
    return True
