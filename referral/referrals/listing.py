"""The inbox and outbox: referrals with what each side may see, in one query."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, func
from sqlmodel import Session, select

from referral.businesses.models import Business
from referral.consent.models import ConsentRecord, ConsentWithdrawal
from referral.customers.models import Customer
from referral.referrals.models import Referral


@dataclass(frozen=True)
class ReferralRow:
    referral: Referral
    other_business: str
    other_business_id: int
    customer_label: str  # a name for the sender; only the ZIP code for the receiver
    consent_state: str  # asked / given / refused / withdrawn


LIMIT = 200


def referral_rows(
    *,
    session: Session,
    business_id: int,
    direction: str,
    status: str | None = None,
    partner_id: int | None = None,
    since: dt.date | None = None,
) -> list[ReferralRow]:
    """Newest first: referrals received (`inbox`) or sent (`outbox`)."""
    mine, theirs = (
        (Referral.receiver_id, Referral.sender_id)
        if direction == "inbox"
        else (Referral.sender_id, Referral.receiver_id)
    )
    latest_record = (
        select(func.max(ConsentRecord.id))
        .where(ConsentRecord.referral_id == Referral.id)
        .correlate(Referral)
        .scalar_subquery()
    )
    # The newest LIMIT referrals are picked first, from the referral table alone;
    # only they are joined to the names and consent state. Both joins are inner
    # joins on required foreign keys, so they drop no row: the rows are the ones
    # the whole join would give, without joining every referral ever received.
    newest = select(Referral.id).where(mine == business_id)
    if direction == "inbox":
        # Nothing reaches the partner before the customer has agreed.
        newest = newest.where(
            Referral.status != "awaiting_consent", Referral.status != "declined_by_customer"
        )
    if status:
        newest = newest.where(Referral.status == status)
    if partner_id:
        newest = newest.where(theirs == partner_id)
    if since:
        newest = newest.where(
            and_(Referral.created_at >= dt.datetime.combine(since, dt.time(), dt.UTC))
        )
    page = newest.order_by(Referral.id.desc()).limit(LIMIT).subquery("newest")
    query = (
        select(
            Referral,
            Business.name,
            Business.id,
            Customer.name,
            Customer.zip_code,
            ConsentRecord.decision,
            ConsentWithdrawal.id,
        )
        .join(page, page.c.id == Referral.id)
        .join(Business, Business.id == theirs)
        .join(Customer, Customer.id == Referral.customer_id)
        .outerjoin(ConsentRecord, ConsentRecord.id == latest_record)
        .outerjoin(ConsentWithdrawal, ConsentWithdrawal.consent_record_id == ConsentRecord.id)
    )
    rows = session.execute(query.order_by(Referral.id.desc())).all()
    return [
        ReferralRow(
            referral=row[0],
            other_business=row[1],
            other_business_id=row[2],
            customer_label=row[3] if direction == "outbox" else f"ZIP {row[4] or 'unknown'}",
            consent_state=("withdrawn" if row[6] else row[5] if row[5] else "asked"),
        )
        for row in rows
    ]
