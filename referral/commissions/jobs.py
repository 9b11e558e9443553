"""Background work for commissions: approval when the hold period ends."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from referral.commissions import services
from referral.commissions.models import Commission
from referral.jobs.queue import job_handler


@job_handler(services.APPROVE_COMMISSION)
def approve_commission(session: Session, payload: dict[str, Any]) -> None:
    commission = session.get(Commission, payload["commission_id"])
    if commission is not None:
        services.approve(session, commission)
