"""The inbox and outbox: referrals with what each side may see, in one query."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import and_, func
from sqlmodel import Session, select

from referral.businesses.models import Business
from referral.consent.models import ConsentRecord, ConsentWithdrawal
from referral.customers.models import Customer
from referral.listing import ordering
from referral.localtime import format_datetime
from referral.money import cents_to_decimal_text
from referral.referrals.models import Referral, ReferralStatus


@dataclass(frozen=True)
class ReferralRow:
    referral: Referral
    other_business: str
    other_business_id: int
    customer_label: str  # a name for the sender; only the ZIP code for the receiver
    consent_state: str  # asked / given / refused / withdrawn


LIMIT = 50  # referrals on a page
# Nothing reaches the partner before the customer has agreed.
_VISIBLE_TO_RECEIVER = (
    Referral.status != ReferralStatus.AWAITING_CONSENT,
    Referral.status != ReferralStatus.DECLINED_BY_CUSTOMER,
)


def inbox_state(*, session: Session, business_id: int) -> str:
    """A string that changes when a referral reaches the inbox or one there
    is answered (the inbox's live status, referral/live.py)."""
    count, newest, waiting = session.exec(
        select(
            func.count(Referral.id),
            func.max(Referral.id),
            func.count(Referral.id).filter(Referral.status == ReferralStatus.SENT),
        ).where(Referral.receiver_id == business_id, *_VISIBLE_TO_RECEIVER)
    ).one()
    return f"{count}:{newest or 0}:{waiting}"


# What a list of referrals may be sorted by (referral/listing.py): the date
# it was made, the job's value, its status, the partner's name.
SORTS = ("date", "value", "status", "partner")


@dataclass(frozen=True)
class ReferralPage:
    rows: list[ReferralRow]
    total: int  # every referral the filters pick, on all pages


def referral_rows(
    *,
    session: Session,
    business_id: int,
    direction: str,
    status: str | None = None,
    partner_id: int | None = None,
    since: dt.date | None = None,
    sort: str = "-date",
    offset: int = 0,
    limit: int = LIMIT,
) -> ReferralPage:
    """Referrals received (`inbox`) or sent (`outbox`), newest first unless
    `sort` says otherwise (a key of SORTS, "-" first for descending): `limit`
    of them from `offset`, and how many the filters pick in all, in one
    statement."""
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
    # The page's referrals are picked first, from the referral table alone (and
    # the partner's name when sorting by it); only they are joined to the names
    # and consent state. Both joins are inner joins on required foreign keys,
    # so they drop no row: the rows are the ones the whole join would give,
    # without joining every referral ever received.
    sorts = {
        "date": Referral.id,
        "value": Referral.job_value_cents,
        "status": Referral.status,
        "partner": Business.name,
    }
    key = sort if sort.removeprefix("-") in sorts else "-date"
    picked = select(
        Referral.id, func.count().over().label("total"), sorts[key.removeprefix("-")]
    ).where(mine == business_id)
    if key.removeprefix("-") == "partner":
        picked = picked.join(Business, Business.id == theirs)
    if direction == "inbox":
        picked = picked.where(*_VISIBLE_TO_RECEIVER)
    if status:
        picked = picked.where(Referral.status == status)
    if partner_id:
        picked = picked.where(theirs == partner_id)
    if since:
        picked = picked.where(
            and_(Referral.created_at >= dt.datetime.combine(since, dt.time(), dt.UTC))
        )
    order = ordering(key, sorts, Referral.id)
    page = picked.order_by(*order).limit(limit).offset(offset).subquery("page")
    query = (
        select(
            Referral,
            Business.name,
            Business.id,
            Customer.name,
            Customer.zip_code,
            ConsentRecord.decision,
            ConsentWithdrawal.id,
            page.c.total,
        )
        .join(page, page.c.id == Referral.id)
        .join(Business, Business.id == theirs)
        .join(Customer, Customer.id == Referral.customer_id)
        .outerjoin(ConsentRecord, ConsentRecord.id == latest_record)
        .outerjoin(ConsentWithdrawal, ConsentWithdrawal.consent_record_id == ConsentRecord.id)
    )
    rows = session.execute(query.order_by(*order)).all()
    if rows:
        total = int(rows[0][7])
    else:  # nothing here: past the last page, or nothing at all
        count = select(func.count()).select_from(picked.subquery())
        total = int(session.scalar(count) or 0) if offset else 0
    return ReferralPage(
        rows=[
            ReferralRow(
                referral=row[0],
                other_business=row[1],
                other_business_id=row[2],
                customer_label=row[3] if direction == "outbox" else f"ZIP {row[4] or 'unknown'}",
                consent_state=("withdrawn" if row[6] else row[5] if row[5] else "asked"),
            )
            for row in rows
        ],
        total=total,
    )


EXPORT_HEADER = (
    "referral",
    "date",
    "partner",
    "customer",
    "need",
    "urgency",
    "status",
    "job value",
    "job date",
)


def export_referrals(
    *, session: Session, business_id: int, direction: str
) -> Iterator[tuple[object, ...]]:
    """Every referral received (`inbox`) or sent (`outbox`), oldest first, a
    batch at a time (the referrals CSV). As on the pages, the receiver sees
    the customer's ZIP code only, and nothing before the customer agreed."""
    mine, theirs = (
        (Referral.receiver_id, Referral.sender_id)
        if direction == "inbox"
        else (Referral.sender_id, Referral.receiver_id)
    )
    query = (
        select(Referral, Business.name, Customer.name, Customer.zip_code)
        .join(Business, Business.id == theirs)
        .join(Customer, Customer.id == Referral.customer_id)
        .where(mine == business_id)
        .order_by(Referral.id)
        .execution_options(yield_per=1000)
    )
    if direction == "inbox":
        query = query.where(*_VISIBLE_TO_RECEIVER)
    for referral, partner, customer_name, zip_code in session.execute(query):
        customer = f"ZIP {zip_code}" if direction == "inbox" else customer_name
        yield (
            referral.id,
            format_datetime(referral.sent_at or referral.created_at),
            partner,
            customer,
            referral.need,
            referral.urgency,
            referral.status,
            ""
            if referral.job_value_cents is None
            else cents_to_decimal_text(referral.job_value_cents),
            referral.job_date.isoformat() if referral.job_date else "",
        )
