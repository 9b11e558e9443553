"""The job worker sends a campaign: a batch at a time, one email per
transaction, within the business's per-minute limit (CAMPAIGN_SENDS_PER_MINUTE).

Each email's transaction first writes the campaign's row, only while the
campaign is still sending: that write and a pause or cancel (an UPDATE of the
same row) take turns, so once a cancel commits no send can begin, and a
send in progress finishes before the cancel commits. Then it claims its
recipient, checks the marketing rule again (customers/marketing.py), and hands
the email to the mail server.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import Engine, bindparam, func, update
from sqlmodel import Session, col, select

from referral.businesses.models import Business
from referral.campaigns import services
from referral.campaigns.models import (
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    RecipientStatus,
)
from referral.campaigns.services import rows_changed
from referral.customers import marketing
from referral.customers.erasure import ErasureStage, on_erasure
from referral.customers.models import Customer
from referral.db import utcnow
from referral.jobs.queue import job_handler
from referral.jobs.worker import PermanentJobError
from referral.mail.delivery import HardBounce, TemporaryDeliveryError, deliver, kept_open
from referral.offers.links import Source, offer_links
from referral.offers.models import Offer, SourceKind

log = logging.getLogger(__name__)

BATCH = 50
MINUTE = dt.timedelta(minutes=1)


@job_handler(services.SEND_CAMPAIGN)
def send_campaign_batch(session: Session, payload: dict[str, Any]) -> None:
    """Send the next batch of a campaign, then queue the next run (or finish)."""
    engine: Engine = session.get_bind()  # type: ignore[assignment]
    campaign = session.get(Campaign, payload["campaign_id"])
    if campaign is None:
        return
    if campaign.status == CampaignStatus.SCHEDULED:
        started = rows_changed(
            session.execute(
                update(Campaign)
                .where(
                    col(Campaign.id) == campaign.id,
                    col(Campaign.status) == CampaignStatus.SCHEDULED,
                )
                .values(status=CampaignStatus.SENDING, started_at=utcnow())
            )
        )
        session.commit()
        if not started:
            return
    elif campaign.status != CampaignStatus.SENDING:
        return
    allowance = _allowance(session, campaign.business_id)
    if allowance <= 0:
        services._queue_sending(session, campaign, run_at=utcnow() + dt.timedelta(seconds=10))
        return
    ids = session.exec(
        select(CampaignRecipient.id)
        .where(
            CampaignRecipient.campaign_id == campaign.id,
            CampaignRecipient.status == RecipientStatus.QUEUED,
        )
        .order_by(col(CampaignRecipient.id))
        .limit(min(BATCH, allowance))
    ).all()
    batch = _Batch.read(session, campaign)
    with kept_open():  # one SMTP connection for the batch
        for recipient_id in ids:
            assert recipient_id is not None
            if not send_one(engine, batch, recipient_id=recipient_id):
                return  # paused or cancelled: nothing more
    _finish_or_continue(session, campaign.id or 0)


@dataclass(frozen=True)
class _Batch:
    """What every email of a batch shares, read once per batch (the campaign's
    text cannot change once it is sending). Each email still checks, in its
    own transaction, that the campaign is sending and its customer permitted."""

    campaign_id: int
    subject: str
    body: str
    business: Business
    offers: list[Offer]
    customer_query: Any  # the customer with their last job date and suppression

    @classmethod
    def read(cls, session: Session, campaign: Campaign) -> _Batch:
        business = session.get(Business, campaign.business_id)
        assert business is not None
        offers = (
            list(session.exec(select(Offer).where(col(Offer.id).in_(campaign.offer_ids))).all())
            if campaign.offer_ids
            else []
        )
        for loaded in (business, *offers):
            session.expunge(loaded)  # plain values from here on, in every email's session
        customer_query = select(
            Customer,
            services.last_job_date_column(),
            marketing.suppressed_condition(business.id or 0),
        ).where(col(Customer.id) == bindparam("customer_id"))
        return cls(
            campaign.id or 0, campaign.subject, campaign.body, business, offers, customer_query
        )


# Built once: every email runs the same two Core statements with its own
# values, so neither is built again nor goes through the ORM's UPDATE handling
# (a profile of 1,500 sends spent a fifth of their database time there).
_campaign = Campaign.__table__  # type: ignore[attr-defined]
_recipient = CampaignRecipient.__table__  # type: ignore[attr-defined]
_STILL_SENDING = (
    update(_campaign)
    .where(_campaign.c.id == bindparam("campaign_id"), _campaign.c.status == CampaignStatus.SENDING)
    .values(last_sent_at=bindparam("now"))
)
_CLAIM = (
    update(_recipient)
    .where(
        _recipient.c.id == bindparam("recipient_id"),
        _recipient.c.status == RecipientStatus.QUEUED,
    )
    .values(status=RecipientStatus.SENT, sent_at=bindparam("now"))
    .returning(_recipient.c.customer_id)
)


def _allowance(session: Session, business_id: int) -> int:
    """How many more emails the business may send this minute."""
    limit: int = current_app.config["CAMPAIGN_SENDS_PER_MINUTE"]
    recent = session.exec(
        select(func.count())
        .select_from(CampaignRecipient)
        .join(Campaign, col(Campaign.id) == CampaignRecipient.campaign_id)
        .where(
            Campaign.business_id == business_id,
            col(CampaignRecipient.sent_at) >= utcnow() - MINUTE,
        )
    ).one()
    return limit - recent


def _finish_or_continue(session: Session, campaign_id: int) -> None:
    left = session.exec(
        select(CampaignRecipient.id)
        .where(
            CampaignRecipient.campaign_id == campaign_id,
            CampaignRecipient.status == RecipientStatus.QUEUED,
        )
        .limit(1)
    ).first()
    campaign = session.get(Campaign, campaign_id)
    assert campaign is not None
    session.refresh(campaign)
    if campaign.status != CampaignStatus.SENDING:
        return
    if left is None:
        session.execute(
            update(Campaign)
            .where(col(Campaign.id) == campaign_id, col(Campaign.status) == CampaignStatus.SENDING)
            .values(status=CampaignStatus.SENT, finished_at=utcnow())
        )
    else:
        services._queue_sending(session, campaign, run_at=utcnow())


def send_one(engine: Engine, batch: _Batch, *, recipient_id: int) -> bool:
    """Send one recipient's email in a transaction of its own; False when the
    campaign is no longer sending (nothing was sent). Four statements: the
    campaign's guard, the claim, the customer read with their last job date and
    suppression, and the commit (more with partners' offers: their partnership)."""
    campaign_id, business = batch.campaign_id, batch.business
    with Session(engine, expire_on_commit=False) as session:
        now = utcnow()
        still_sending = rows_changed(
            session.connection().execute(_STILL_SENDING, {"campaign_id": campaign_id, "now": now})
        )
        if not still_sending:
            session.rollback()
            return False
        customer_id = (
            session.connection()
            .execute(_CLAIM, {"recipient_id": recipient_id, "now": now})
            .scalar_one_or_none()
        )
        if customer_id is None:  # another worker sent it, or it was cancelled
            session.commit()
            return True
        customer, last_job_date, suppressed = session.execute(
            batch.customer_query, {"customer_id": customer_id}
        ).one()
        values = services.values_of(business, customer, last_job_date=last_job_date)
        links = offer_links(
            session,
            offers=batch.offers,
            customer=customer,
            source=Source(SourceKind.CAMPAIGN, campaign_id),
        )
        message = marketing.compose(
            session,
            business=business,
            customer=customer,
            subject=services.merge(batch.subject, values),
            text_body=services.merge(batch.body, values) + services.offers_section(links),
            message_id=f"<campaign-{campaign_id}-{recipient_id}@referral.localhost>",
            suppressed=bool(suppressed),
            email=(SourceKind.CAMPAIGN.value, campaign_id),
        )
        if message is None:
            _mark(
                session, recipient_id, RecipientStatus.SKIPPED, "not permitted when its turn came"
            )
        else:
            try:
                deliver(session, message)
            except (PermanentJobError, TemporaryDeliveryError) as exc:
                # A hard bounce has already suppressed the address (and committed).
                reason = "hard bounce" if isinstance(exc, HardBounce) else str(exc)
                _mark(session, recipient_id, RecipientStatus.FAILED, reason[:300])
        session.commit()
    return True


def _mark(session: Session, recipient_id: int, status: RecipientStatus, error: str) -> None:
    session.execute(
        update(CampaignRecipient)
        .where(col(CampaignRecipient.id) == recipient_id)
        .values(status=status, error=error, sent_at=None)
    )


@on_erasure(ErasureStage.CLOSE)
def leave_campaigns(session: Session, customer: Customer) -> None:
    services.forget_customer(session, customer)
