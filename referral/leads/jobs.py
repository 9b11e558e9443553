"""Background work for leads: expiry, lapsed reservations, saved-card charges."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from referral.jobs.queue import job_handler
from referral.leads import offers, purchases
from referral.leads.models import Lead, LeadPurchase


@job_handler(offers.EXPIRE_LEAD)
def expire_lead(session: Session, payload: dict[str, Any]) -> None:
    lead = session.get(Lead, payload["lead_id"])
    if lead is not None:
        offers.expire(session, lead)


@job_handler(purchases.RELEASE_RESERVATION)
def release_reservation(session: Session, payload: dict[str, Any]) -> None:
    purchase = session.get(LeadPurchase, payload["purchase_id"], with_for_update=True)
    if purchase is not None:
        purchases.release_if_lapsed(session, purchase)


@job_handler(purchases.CHARGE_PURCHASE)
def charge_purchase(session: Session, payload: dict[str, Any]) -> None:
    purchase = session.get(LeadPurchase, payload["purchase_id"], with_for_update=True)
    if purchase is not None:
        purchases.charge(session, purchase)
