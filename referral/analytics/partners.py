"""What each partnership is worth: revenue won from a partner's referrals,
commissions earned from and owed to it (and how much of each is settled),
the net position, and revenue per dollar of commission, ranked."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlmodel import Session

from referral.analytics.sql import Period, Rate
from referral.businesses.models import Business
from referral.commissions.models import Commission
from referral.commissions.services import SETTLED
from referral.referrals.models import Referral
from referral.settlements.models import Settlement, SettlementLine


@dataclass
class PartnerValue:
    partner_id: int
    partner_name: str = ""
    jobs_won: int = 0
    revenue_cents: int = 0  # jobs won from this partner's referrals, net of refunds
    earned_cents: int = 0  # commissions this partner owes me
    earned_settled_cents: int = 0
    owed_cents: int = 0  # commissions I owe this partner
    owed_settled_cents: int = 0

    @property
    def net_cents(self) -> int:
        """Commissions in my favour minus commissions against me."""
        return self.earned_cents - self.owed_cents

    @property
    def revenue_per_commission(self) -> Rate:
        """Revenue won from their referrals per cent of commission I owe them."""
        return Rate(self.revenue_cents, self.owed_cents)

    @property
    def value_cents(self) -> int:
        """What the partnership brought me: revenue, plus earned, less owed."""
        return self.revenue_cents + self.earned_cents - self.owed_cents


def _settled():  # type: ignore[no-untyped-def]
    """What settled of the commission in the enclosing query: a correlated subquery,
    so the database reads only the lines of that business's commissions."""
    return (
        select(func.coalesce(func.sum(SettlementLine.amount_cents), 0))
        .join(Settlement, Settlement.id == SettlementLine.settlement_id)
        .where(SettlementLine.commission_id == Commission.id, Settlement.status.in_(SETTLED))
        .correlate(Commission)
        .scalar_subquery()
    )


def partner_values(session: Session, business_id: int, *, period: Period) -> list[PartnerValue]:
    """Every partner with activity in the period, best value first."""
    values: dict[int, PartnerValue] = {}

    def of(partner_id: int) -> PartnerValue:
        return values.setdefault(partner_id, PartnerValue(partner_id=partner_id))

    won_commission = Commission.__table__.alias("won_commission")
    revenue = session.execute(
        select(
            Referral.sender_id,
            func.count(),
            func.sum(Referral.job_value_cents - func.coalesce(won_commission.c.refunded_cents, 0)),
        )
        .outerjoin(
            won_commission,
            and_(
                won_commission.c.referral_id == Referral.id,
                won_commission.c.trigger == "won",
            ),
        )
        .where(
            Referral.receiver_id == business_id,
            Referral.status == "won",
            Referral.closed_at >= period.start_at,
            Referral.closed_at < period.end_at,
        )
        .group_by(Referral.sender_id)
    ).all()
    for partner_id, jobs, cents in revenue:
        value = of(partner_id)
        value.jobs_won, value.revenue_cents = int(jobs), int(cents or 0)

    for role in ("earned", "owed"):
        mine = Commission.referrer_id if role == "earned" else Commission.payer_id
        theirs = Commission.payer_id if role == "earned" else Commission.referrer_id
        commissions = (
            select(
                theirs.label("partner_id"),
                Commission.amount_cents.label("amount"),
                _settled().label("settled"),
            )
            .where(
                mine == business_id,
                Commission.status != "reversed",
                Commission.created_at >= period.start_at,
                Commission.created_at < period.end_at,
            )
            .subquery()
        )
        rows = session.execute(
            select(
                commissions.c.partner_id,
                func.sum(commissions.c.amount),
                func.sum(commissions.c.settled),
            ).group_by(commissions.c.partner_id)
        ).all()
        for partner_id, total, done in rows:
            value = of(partner_id)
            setattr(value, f"{role}_cents", int(total or 0))
            setattr(value, f"{role}_settled_cents", int(done or 0))

    if values:
        names = session.execute(
            select(Business.id, Business.name).where(Business.id.in_(list(values)))
        ).all()
        for partner_id, name in names:
            values[partner_id].partner_name = name
    return sorted(values.values(), key=lambda v: (-v.value_cents, v.partner_name))
