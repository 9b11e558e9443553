"""The operator's view of the whole platform."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlmodel import Session

from referral.analytics.sql import Period
from referral.businesses.models import Business
from referral.commissions.models import Commission, CommissionStatus
from referral.ledger.services import balance
from referral.partnerships.models import Partnership, PartnershipStatus
from referral.referrals.models import Referral, ReferralStatus
from referral.settlements.models import Settlement, SettlementStatus


@dataclass(frozen=True)
class PlatformFigures:
    businesses: int
    active_partnerships: int
    referrals: int
    referrals_won: int
    gross_commission_cents: int
    platform_fees_cents: int
    settlements_waiting: int
    settlements_failing: int
    settlements_disputed: int


def platform_figures(session: Session, *, period: Period) -> PlatformFigures:
    def count(query) -> int:  # type: ignore[no-untyped-def]
        return int(session.execute(query).scalar() or 0)

    in_period = period.holds(Referral.created_at)
    by_status = dict(
        session.execute(select(Settlement.status, func.count()).group_by(Settlement.status)).all()
    )
    return PlatformFigures(
        businesses=count(select(func.count()).select_from(Business)),
        active_partnerships=count(
            select(func.count())
            .select_from(Partnership)
            .where(Partnership.status == PartnershipStatus.ACTIVE)
        ),
        referrals=count(select(func.count()).select_from(Referral).where(*in_period)),
        referrals_won=count(
            select(func.count())
            .select_from(Referral)
            .where(*in_period, Referral.status == ReferralStatus.WON)
        ),
        gross_commission_cents=count(
            select(func.coalesce(func.sum(Commission.amount_cents), 0)).where(
                Commission.status != CommissionStatus.REVERSED,
                *period.holds(Commission.created_at),
            )
        ),
        # Fees are credits in the ledger: revenue is the negated balance.
        platform_fees_cents=-balance(session, "platform_fees"),
        settlements_waiting=int(by_status.get(SettlementStatus.WAITING, 0)),
        settlements_failing=int(
            by_status.get(SettlementStatus.RETRY_SCHEDULED, 0)
            + by_status.get(SettlementStatus.FAILED, 0)
        ),
        settlements_disputed=int(by_status.get(SettlementStatus.DISPUTED, 0)),
    )
