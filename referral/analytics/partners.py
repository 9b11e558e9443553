"""What each partnership is worth: revenue won from a partner's referrals,
commissions earned from and owed to it (and how much of each is settled),
the net position, and revenue per dollar of commission, ranked."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlmodel import Session

from referral.analytics.sql import Period, in_period, period_parameters
from referral.businesses.models import Business
from referral.commissions.models import Commission, CommissionStatus
from referral.money import Rate
from referral.referrals.models import Referral, ReferralStatus


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


def _named(per_partner):  # type: ignore[no-untyped-def]
    """A per-partner result with each partner's name, joined once per partner."""
    columns = [c for c in per_partner.c if c.name != "partner_id"]
    return select(per_partner.c.partner_id, Business.name, *columns).join(
        Business, Business.id == per_partner.c.partner_id
    )


def partner_values(session: Session, business_id: int, *, period: Period) -> list[PartnerValue]:
    """Every partner with activity in the period, best value first."""
    values: dict[int, PartnerValue] = {}

    def of(partner_id: int, name: str) -> PartnerValue:
        return values.setdefault(partner_id, PartnerValue(partner_id, name))

    revenue_sql, commissions_sql = _statements()
    parameters = {"business_id": business_id, **period_parameters(period)}
    for partner_id, name, jobs, cents in session.execute(revenue_sql, parameters).all():
        value = of(partner_id, name)
        value.jobs_won, value.revenue_cents = int(jobs), int(cents or 0)
    for role, statement in commissions_sql.items():
        for partner_id, name, total, done in session.execute(statement, parameters).all():
            value = of(partner_id, name)
            setattr(value, f"{role}_cents", int(total or 0))
            setattr(value, f"{role}_settled_cents", int(done or 0))
    return sorted(values.values(), key=lambda v: (-v.value_cents, v.partner_name))


@functools.cache
def _statements() -> tuple[Any, dict[str, Any]]:
    """`partner_values`' statements, built once: the revenue won from each
    partner's referrals, and the commissions "earned" from and "owed" to each."""
    business_id = bindparam("business_id")
    revenue = (
        select(
            Referral.sender_id.label("partner_id"),
            func.count().label("jobs"),
            func.sum(Referral.job_value_cents - Referral.refunded_cents).label("cents"),
        )
        .where(
            Referral.receiver_id == business_id,
            Referral.status == ReferralStatus.WON,
            *in_period(Referral.closed_at),
        )
        .group_by(Referral.sender_id)
        .subquery("revenue")
    )
    commissions_by_role = {}
    for role in ("earned", "owed"):
        mine = Commission.referrer_id if role == "earned" else Commission.payer_id
        theirs = Commission.payer_id if role == "earned" else Commission.referrer_id
        commissions = (
            select(
                theirs.label("partner_id"),
                Commission.amount_cents.label("amount"),
                Commission.settled_cents.label("settled"),
            )
            .where(
                mine == business_id,
                Commission.status != CommissionStatus.REVERSED,
                *in_period(Commission.created_at),
            )
            .subquery()
        )
        totals = (
            select(
                commissions.c.partner_id,
                func.sum(commissions.c.amount).label("total"),
                func.sum(commissions.c.settled).label("done"),
            )
            .group_by(commissions.c.partner_id)
            .subquery("totals")
        )
        commissions_by_role[role] = _named(totals)
    return _named(revenue), commissions_by_role
