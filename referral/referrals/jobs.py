"""Background work for referrals: expiry when the partner does not answer in time."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from referral.db import utcnow
from referral.jobs.queue import job_handler
from referral.referrals import services
from referral.referrals.models import Referral, ReferralStatus

EXPIRE_REFERRAL = "referral.expire"


@job_handler(EXPIRE_REFERRAL)
def expire_referral(session: Session, payload: dict[str, Any]) -> None:
    """Runs at the referral's answer deadline; a referral answered by then is left alone."""
    referral = session.get(Referral, payload["referral_id"])
    if referral is None or referral.status != ReferralStatus.SENT or referral.respond_by is None:
        return
    if referral.respond_by <= utcnow():
        services.expire_referral(session=session, referral=referral)
