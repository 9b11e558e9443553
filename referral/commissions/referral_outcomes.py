"""Commissions' reactions to referrals (registered on import; listed in
referral/domains.py): an accepted or won referral accrues its commission,
and the referral's page shows the commission a won job earned."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from referral.commissions.services import accrue, won_commission
from referral.referrals.models import Referral
from referral.referrals.outcomes import Outcome, on_outcome, page_extra


@on_outcome
def accrue_commission(session: Session, referral: Referral, outcome: Outcome) -> None:
    accrue(session, referral, outcome)


@page_extra
def commission_on_page(session: Session, referral: Referral) -> dict[str, Any]:
    return {"commission": won_commission(session, referral.id or 0)}
