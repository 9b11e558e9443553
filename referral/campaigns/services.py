"""Campaigns: choose customers by segment, compose one message with merge
fields, send it now or later, pause, resume or cancel it while it goes out.

Who may receive it is customers/marketing.py's rule, applied twice: when the
recipients are chosen (one INSERT ... SELECT, no list in Python) and when
each email's turn comes. Sending is the job worker's (campaigns/jobs.py).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    exists,
    func,
    insert,
    literal,
    or_,
    union_all,
    update,
)
from sqlalchemy import select as sql_select
from sqlalchemy.sql.elements import BindParameter
from sqlmodel import Session, col, select

from referral.auth.roles import MANAGING_ROLES, require_role
from referral.businesses.actor import Actor
from referral.businesses.geo import zips_within
from referral.businesses.models import Business
from referral.campaigns.models import (
    TRANSITIONS,
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    RecipientStatus,
)
from referral.commissions.models import Commission, CommissionStatus
from referral.customers import marketing
from referral.customers.models import (
    Customer,
    CustomerJob,
    MarketingPermissionEvent,
    PermissionChange,
)
from referral.db import UTCDateTime, utcnow
from referral.errors import DomainError, NotFound, ValidationFailed
from referral.jobs.queue import enqueue_once
from referral.offers.links import OfferLink
from referral.offers.models import (
    Offer,
    OfferKind,
    OfferReferral,
    Opportunity,
    OpportunityStatus,
    SourceKind,
)
from referral.offers.services import is_current, partner_offers
from referral.referrals.models import Referral, ReferralStatus

SEND_CAMPAIGN = "send_campaign"
SAMPLE_SIZE = 5
INVALID = "Some fields are not valid."
MERGE_FIELD = re.compile(r"\{([^{}]*)\}")
MERGE_FIELDS = {
    "first_name": "The customer's first name",
    "name": "The customer's full name",
    "last_job_date": "The date of the customer's last job",
    "business_name": "Your business's name",
}
NOBODY = "No customer matches this segment: nothing was queued."
NOBODY_PERMITTED = (
    "{matched} customers match this segment, but none has given permission to receive "
    "your offers by email (or all unsubscribed): nothing was queued."
)


def rows_changed(result: Any) -> int:
    """The rows an UPDATE or INSERT changed."""
    return int(result.rowcount)


class CampaignConflict(DomainError):
    """The action does not fit the campaign's state (cancelled, already sent...)."""

    status = 409


# --- Segments -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """Which customers: each criterion given narrows the choice."""

    trades: tuple[str, ...] = ()
    last_job_from: dt.date | None = None
    last_job_to: dt.date | None = None
    min_lifetime_cents: int | None = None
    max_lifetime_cents: int | None = None
    zip_code: str = ""
    radius_miles: int | None = None

    @classmethod
    def of(cls, data: dict[str, Any]) -> Segment:
        def day(name: str) -> dt.date | None:
            value = data.get(name)
            if isinstance(value, dt.date):
                return value
            return dt.date.fromisoformat(value) if value else None

        return cls(
            trades=tuple(t for t in data.get("trades") or () if t),
            last_job_from=day("last_job_from"),
            last_job_to=day("last_job_to"),
            min_lifetime_cents=data.get("min_lifetime_cents"),
            max_lifetime_cents=data.get("max_lifetime_cents"),
            zip_code=data.get("zip_code") or "",
            radius_miles=data.get("radius_miles"),
        )

    def stored(self) -> dict[str, Any]:
        return {
            "trades": list(self.trades),
            "last_job_from": self.last_job_from.isoformat() if self.last_job_from else None,
            "last_job_to": self.last_job_to.isoformat() if self.last_job_to else None,
            "min_lifetime_cents": self.min_lifetime_cents,
            "max_lifetime_cents": self.max_lifetime_cents,
            "zip_code": self.zip_code,
            "radius_miles": self.radius_miles,
        }

    def check(self) -> None:
        """Fails (ValidationFailed naming the field) on a segment that cannot be right."""
        errors: dict[str, list[str]] = {}
        if self.last_job_from and self.last_job_to and self.last_job_from > self.last_job_to:
            errors["last_job_to"] = ["The end is before the start."]
        low, high = self.min_lifetime_cents, self.max_lifetime_cents
        if low is not None and high is not None and low > high:
            errors["max_lifetime"] = ["The maximum is below the minimum."]
        if self.radius_miles and not self.zip_code:
            errors["zip_code"] = ["Give the ZIP code the radius is measured from."]
        if self.zip_code and not zips_within(self.zip_code, 0):
            errors["zip_code"] = ["Unknown ZIP code."]
        if errors:
            raise ValidationFailed(INVALID, errors=errors)

    def condition(self, business_id: int) -> ColumnElement[bool]:
        """The segment as a condition on `customer` (not the marketing rule)."""
        jobs = select(CustomerJob.id).where(CustomerJob.customer_id == Customer.id)
        last_job = (
            select(func.max(CustomerJob.job_date))
            .where(CustomerJob.customer_id == Customer.id)
            .scalar_subquery()
        )
        lifetime = (
            select(func.coalesce(func.sum(CustomerJob.amount_cents), 0))
            .where(CustomerJob.customer_id == Customer.id)
            .scalar_subquery()
        )
        parts: list[ColumnElement[bool]] = [
            col(Customer.business_id) == business_id,
            col(Customer.erased_at).is_(None),
        ]
        if self.trades:
            parts.append(exists(jobs.where(col(CustomerJob.trade).in_(self.trades))))
        if self.last_job_from:
            parts.append(last_job >= self.last_job_from)
        if self.last_job_to:
            parts.append(last_job <= self.last_job_to)
        if self.min_lifetime_cents is not None:
            parts.append(lifetime >= self.min_lifetime_cents)
        if self.max_lifetime_cents is not None:
            parts.append(lifetime <= self.max_lifetime_cents)
        if self.zip_code:
            parts.append(
                col(Customer.zip_code).in_(zips_within(self.zip_code, self.radius_miles or 0))
            )
        return and_(*parts)


@dataclass(frozen=True)
class Preview:
    matched: int  # customers in the segment
    permitted: int  # of them, those the marketing rule allows
    sample: list[dict[str, Any]]

    @property
    def problem(self) -> str:
        if self.matched == 0:
            return NOBODY
        if self.permitted == 0:
            return NOBODY_PERMITTED.format(matched=self.matched)
        return ""


def preview_segment(session: Session, *, business: Business, segment: Segment) -> Preview:
    """How many customers the segment matches, how many may be emailed, and a few of them."""
    assert business.id is not None
    segment.check()
    matching = segment.condition(business.id)
    allowed = and_(matching, marketing.permitted_customers(business.id))
    matched = session.exec(select(func.count()).select_from(Customer).where(matching)).one()
    permitted = session.exec(select(func.count()).select_from(Customer).where(allowed)).one()
    rows = session.exec(
        select(Customer).where(allowed).order_by(col(Customer.id)).limit(SAMPLE_SIZE)
    ).all()
    sample = [
        {"name": c.name, "email": c.email, "last_job_date": _last_job_date(session, c)}
        for c in rows
    ]
    return Preview(matched=matched, permitted=permitted, sample=sample)


# --- The message ----------------------------------------------------------------------------


def check_merge_fields(*, subject: str, body: str) -> None:
    """Fails (ValidationFailed on `subject` or `body`) on a merge field that does not exist."""
    errors: dict[str, list[str]] = {}
    for name, text in (("subject", subject), ("body", body)):
        unknown = sorted({m for m in MERGE_FIELD.findall(text) if m not in MERGE_FIELDS})
        if unknown:
            known = ", ".join(f"{{{k}}}" for k in MERGE_FIELDS)
            errors[name] = [
                f"Unknown merge field {', '.join(f'{{{u}}}' for u in unknown)}: use {known}."
            ]
    if errors:
        raise ValidationFailed(INVALID, errors=errors)


def _last_job_date(session: Session, customer: Customer) -> dt.date | None:
    return session.exec(
        select(func.max(CustomerJob.job_date)).where(CustomerJob.customer_id == customer.id)
    ).one()


def merge(text: str, values: dict[str, str]) -> str:
    return MERGE_FIELD.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def merge_values(session: Session, business: Business, customer: Customer) -> dict[str, str]:
    return values_of(business, customer, last_job_date=_last_job_date(session, customer))


def last_job_date_column() -> Any:
    """`customer`'s last job date as a column, to read with the customer."""
    return (
        select(func.max(CustomerJob.job_date))
        .where(CustomerJob.customer_id == Customer.id)
        .scalar_subquery()
    )


def values_of(
    business: Business, customer: Customer, *, last_job_date: dt.date | None
) -> dict[str, str]:
    """The merge fields' values for one customer."""
    last = last_job_date
    return {
        "first_name": customer.name.split()[0] if customer.name.split() else "",
        "name": customer.name,
        "last_job_date": f"{last:%B} {last.day}, {last.year}" if last else "",
        "business_name": business.name,
    }


def paragraphs(body: str) -> list[str]:
    """The body's paragraphs (a blank line between them), for a page to show."""
    return [p.strip() for p in re.split(r"\n\s*\n", body) if p.strip()]


# --- Campaigns ------------------------------------------------------------------------------


def get_campaign(session: Session, *, business_id: int, campaign_id: int) -> Campaign:
    """Fails (NotFound) for another business's campaign."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or campaign.business_id != business_id:
        raise NotFound("No such campaign.")
    return campaign


def list_campaigns_query(*, business_id: int) -> Any:
    return (
        select(Campaign)
        .where(Campaign.business_id == business_id)
        .order_by(col(Campaign.id).desc())
    )


def offers_to_include(session: Session, business_id: int) -> list[tuple[Offer, str]]:
    """The offers a business may put in its campaigns today, each with who
    makes it: its own current offers, then its active partners' offers."""
    own = session.exec(
        select(Offer).where(
            Offer.business_id == business_id,
            Offer.kind == OfferKind.OWN,
            col(Offer.ended_at).is_(None),
        )
    ).all()
    mine = [(offer, "yours") for offer in own if is_current(offer)]
    partners = partner_offers(session=session, business_id=business_id)
    return mine + [(offer, publisher.name) for offer, publisher in partners]


def check_offers(
    session: Session, business_id: int, offer_ids: list[int], *, kept: Iterable[int] = ()
) -> list[int]:
    """The chosen offers, each one the business may include today or one the
    rule already holds (`kept`): an offer that has ended since is left out of
    each email when it is sent, so editing a rule's text need not drop it.
    Fails (ValidationFailed on `offer_ids`) on any other."""
    allowed = {offer.id for offer, _ in offers_to_include(session, business_id)} | set(kept)
    if any(offer_id not in allowed for offer_id in offer_ids):
        raise ValidationFailed(
            INVALID,
            errors={
                "offer_ids": ["Choose your own current offers or your active partners' offers."]
            },
        )
    return sorted(set(offer_ids))


def offers_section(links: list[OfferLink]) -> str:
    """The offers part of an email: each offer with the customer's personal link."""
    if not links:
        return ""
    lines = ["", "", "Offers for you:"]
    for link in links:
        lines += ["", f"* {link.title}: {link.benefit}", f"  {link.url}"]
    return "\n".join(lines)


def create_campaign(
    session: Session,
    *,
    actor: Actor,
    name: str,
    subject: str,
    body: str,
    segment: Segment,
    offer_ids: list[int] | None = None,
) -> Campaign:
    """A draft campaign. Fails (PermissionDenied) for staff, (ValidationFailed)
    on an unknown merge field, a segment that cannot be right, or an offer the
    business may not include."""
    require_role(actor.role, MANAGING_ROLES, "Only owners and managers run campaigns.")
    check_merge_fields(subject=subject, body=body)
    segment.check()
    campaign = Campaign(
        business_id=actor.business_id,
        name=" ".join(name.split()),
        subject=" ".join(subject.split()),
        body=body.replace("\r\n", "\n"),
        segment=segment.stored(),
        offer_ids=check_offers(session, actor.business_id, offer_ids or []),
        created_by_id=actor.user_id,
    )
    session.add(campaign)
    session.flush()
    return campaign


def _require(campaign: Campaign, action: str) -> None:
    if campaign.status not in TRANSITIONS[action]:
        raise CampaignConflict(f"This campaign is {campaign.status}: it cannot be {_past(action)}.")


def send_campaign(
    session: Session, *, actor: Actor, campaign_id: int, at: dt.datetime | None = None
) -> Campaign:
    """Queue the campaign to every permitted customer of its segment, now or
    at `at`: one INSERT ... SELECT. Fails (CampaignConflict) unless it is a
    draft, (MarketingRefused) without the business's postal address, and
    (ValidationFailed on `segment`) when nobody permitted matches: then
    nothing is queued."""
    require_role(actor.role, MANAGING_ROLES, "Only owners and managers run campaigns.")
    campaign = get_campaign(session, business_id=actor.business_id, campaign_id=campaign_id)
    _require(campaign, "send")
    marketing.require_postal_address(actor.business)
    now = utcnow()
    if at is not None and at <= now:
        at = None
    segment = Segment.of(campaign.segment)
    chosen = (
        sql_select(
            literal(campaign.id),
            col(Customer.id),
            literal(RecipientStatus.QUEUED.value),
            literal(""),
            literal(now),
        )
        .where(segment.condition(actor.business_id))
        .where(marketing.permitted_customers(actor.business_id))
    )
    table = CampaignRecipient.__table__  # type: ignore[attr-defined]
    session.execute(
        insert(table).from_select(
            ["campaign_id", "customer_id", "status", "error", "created_at"], chosen
        )
    )
    # Counted, not the INSERT's rowcount: PostgreSQL's driver leaves that at -1 here.
    inserted = session.exec(
        select(func.count())
        .select_from(CampaignRecipient)
        .where(CampaignRecipient.campaign_id == campaign.id)
    ).one()
    if not inserted:
        preview = preview_segment(session, business=actor.business, segment=segment)
        raise ValidationFailed(
            preview.problem or NOBODY, errors={"segment": [preview.problem or NOBODY]}
        )
    campaign.recipients_total = inserted
    campaign.scheduled_for = at
    campaign.status = CampaignStatus.SCHEDULED if at else CampaignStatus.SENDING
    if not at:
        campaign.started_at = now
    _queue_sending(session, campaign, run_at=at or now)
    session.flush()
    return campaign


def _queue_sending(session: Session, campaign: Campaign, *, run_at: dt.datetime) -> None:
    enqueue_once(
        session,
        SEND_CAMPAIGN,
        {"campaign_id": campaign.id},
        singleton=f"campaign-{campaign.id}",
        run_at=run_at,
    )


def pause_campaign(session: Session, *, actor: Actor, campaign_id: int) -> Campaign:
    """Stop sending; the recipients not yet sent wait. Fails (CampaignConflict)."""
    return _change(session, actor, campaign_id, "pause", CampaignStatus.PAUSED)


def resume_campaign(session: Session, *, actor: Actor, campaign_id: int) -> Campaign:
    """Send the rest. Fails (CampaignConflict) unless paused."""
    campaign = _change(session, actor, campaign_id, "resume", CampaignStatus.SENDING)
    campaign.started_at = campaign.started_at or utcnow()
    _queue_sending(session, campaign, run_at=utcnow())
    return campaign


def cancel_campaign(session: Session, *, actor: Actor, campaign_id: int) -> Campaign:
    """Stop for good: once this commits no more of its email is sent (each send
    checks the campaign in the same transaction, and the cancel waits for a send
    in progress). Fails (CampaignConflict) once sent or cancelled."""
    campaign = _change(session, actor, campaign_id, "cancel", CampaignStatus.CANCELLED)
    campaign.finished_at = utcnow()
    session.execute(
        update(CampaignRecipient)
        .where(
            col(CampaignRecipient.campaign_id) == campaign.id,
            col(CampaignRecipient.status) == RecipientStatus.QUEUED,
        )
        .values(status=RecipientStatus.CANCELLED)
    )
    return campaign


def _change(
    session: Session, actor: Actor, campaign_id: int, action: str, to: CampaignStatus
) -> Campaign:
    require_role(actor.role, MANAGING_ROLES, "Only owners and managers run campaigns.")
    get_campaign(session, business_id=actor.business_id, campaign_id=campaign_id)
    # One conditional UPDATE: it waits for a send in progress (which holds the
    # campaign's row), then changes the state only if the action still fits.
    changed = rows_changed(
        session.execute(
            update(Campaign)
            .where(col(Campaign.id) == campaign_id, col(Campaign.status).in_(TRANSITIONS[action]))
            .values(status=to)
        )
    )
    campaign = get_campaign(session, business_id=actor.business_id, campaign_id=campaign_id)
    session.refresh(campaign)
    if not changed:
        raise CampaignConflict(f"This campaign is {campaign.status}: it cannot be {_past(action)}.")
    return campaign


def _past(action: str) -> str:
    return {"pause": "paused", "resume": "resumed", "cancel": "cancelled", "send": "sent"}[action]


def campaign_stats(session: Session, campaign: Campaign) -> dict[str, int]:
    """How many recipients are queued, sent, failed, skipped and cancelled."""
    counts = dict.fromkeys((s.value for s in RecipientStatus), 0)
    rows = session.exec(
        select(CampaignRecipient.status, func.count())
        .where(CampaignRecipient.campaign_id == campaign.id)
        .group_by(CampaignRecipient.status)
    ).all()
    for status, count in rows:
        counts[status] = count
    counts["total"] = sum(counts.values())
    return counts


# Commissions that count as earned: all but those reversed.
EARNED = tuple(status for status in CommissionStatus if status != CommissionStatus.REVERSED)


def campaign_results(session: Session, campaign: Campaign) -> dict[str, int]:
    """What the campaign brought, to the dollar (source_results)."""
    assert campaign.id is not None
    return source_results(
        session, business_id=campaign.business_id, kind=SourceKind.CAMPAIGN, source_id=campaign.id
    )


def source_results(
    session: Session, *, business_id: int, kind: SourceKind, source_id: int
) -> dict[str, int]:
    """What a campaign or a follow-up rule brought, to the dollar (results_by_source)."""
    found = results_by_source(session, business_id=business_id, kind=kind, source_id=source_id)
    return found.get((kind.value, source_id), dict(NO_RESULTS))


# What a campaign or rule that brought nothing (yet) shows.
NO_RESULTS = {
    "unsubscribed": 0,
    "said_yes": 0,
    "referrals_made": 0,
    "referrals_accepted": 0,
    "won": 0,
    "revenue_cents": 0,
    "own_revenue_cents": 0,
    "commission_cents": 0,
}


def results_by_source(
    session: Session,
    *,
    business_id: int,
    kind: SourceKind | None = None,
    source_id: int | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> dict[tuple[str, int], dict[str, int]]:
    """What each of the business's campaigns and follow-up rules brought (or
    the one `kind` and `source_id` name), keyed by (kind, id): customers who
    unsubscribed through its email's link, who said yes to an offer in it (a
    referral to a partner or an opportunity of the business's own), the
    referrals made and accepted, those won, the revenue of the jobs won (the
    partner's and its own), and the commissions the business earns on the
    partner referrals. One statement whatever the number of campaigns: four
    grouped counts, one per table, side by side (UNION ALL), each giving its
    own figures and 0 for the others.

    All of time unless `since` and/or `until` bound it to [since, until), as
    the dashboard counts a period: an unsubscribe, a yes, a referral made (and
    accepted) by when it was made; a job won and its revenue by when it was
    closed; a commission by when it was recorded."""
    given = {
        "kind": kind.value if kind is not None else None,
        "source_id": source_id,
        "since": since,
        "until": until,
    }
    statement = _results_statement(*(value is not None for value in given.values()))
    parameters = {"business_id": business_id} | {
        name: value for name, value in given.items() if value is not None
    }
    results: dict[tuple[str, int], dict[str, int]] = {}
    for row in session.execute(statement, parameters).mappings():
        if row["kind"] is None or row["id"] is None:
            continue
        figures = results.setdefault((str(row["kind"]), int(row["id"])), dict(NO_RESULTS))
        for name in NO_RESULTS:
            figures[name] += int(row[name] or 0)
    return results


@functools.cache
def _results_statement(one_kind: bool, one_source: bool, from_since: bool, to_until: bool) -> Any:
    """`results_by_source`'s statement, built once per shape: whether it is
    for one kind, one source, and bounded by `since` and by `until` (their
    values, and the business's, are bound parameters)."""
    business_id: BindParameter[int] = bindparam("business_id")

    def of_source(source_kind: Any, source_ident: Any) -> list[ColumnElement[bool]]:
        where = []
        if one_kind:
            where.append(source_kind == bindparam("kind"))
        if one_source:
            where.append(source_ident == bindparam("source_id"))
        return where

    def during(at: Any) -> list[ColumnElement[bool]]:
        """`at` within the bounds given: nothing to add for all of time."""
        bounds = []
        if from_since:
            bounds.append(at >= bindparam("since", type_=UTCDateTime()))
        if to_until:
            bounds.append(at < bindparam("until", type_=UTCDateTime()))
        return bounds

    def made_or_closed(made: Any, closed: Any) -> list[ColumnElement[bool]]:
        """Rows that count in the bounds: made in them, or closed in them."""
        if not (from_since or to_until):
            return []
        return [or_(and_(*during(made)), and_(*during(closed)))]

    def part(source_kind: Any, source_ident: Any, **figures: Any) -> Select[Any]:
        zero = literal(0)
        return sql_select(
            source_kind.label("kind"),
            source_ident.label("id"),
            *((figures.get(name, zero)).label(name) for name in NO_RESULTS),
        ).group_by(source_kind, source_ident)

    event = MarketingPermissionEvent
    unsubscribes = part(
        col(event.email_kind),
        col(event.email_id),
        unsubscribed=func.count(func.distinct(col(event.customer_id))),
    ).where(
        col(event.business_id) == business_id,
        col(event.change) == PermissionChange.WITHDRAWN,
        col(event.email_kind).is_not(None),
        col(event.email_id).is_not(None),
        *of_source(col(event.email_kind), col(event.email_id)),
        *during(col(event.created_at)),
    )
    status = col(Referral.status)
    made = during(col(Referral.created_at))
    won = [status == ReferralStatus.WON, *during(col(Referral.closed_at))]
    source_kind, source_ident = col(OfferReferral.source_kind), col(OfferReferral.source_id)
    referred = (
        part(
            source_kind,
            source_ident,
            said_yes=func.count().filter(*made),
            referrals_made=func.count().filter(*made),
            referrals_accepted=func.count().filter(
                status.in_((ReferralStatus.ACCEPTED, ReferralStatus.WON, ReferralStatus.LOST)),
                *made,
            ),
            won=func.count().filter(*won),
            # Net of refunds, as the dashboard's partner revenue and trends count it.
            revenue_cents=func.coalesce(
                func.sum(col(Referral.job_value_cents) - col(Referral.refunded_cents)).filter(*won),
                0,
            ),
        )
        .select_from(OfferReferral)
        .join(Referral, col(Referral.id) == col(OfferReferral.referral_id))
        .where(
            col(Referral.sender_id) == business_id,
            *of_source(source_kind, source_ident),
            *made_or_closed(col(Referral.created_at), col(Referral.closed_at)),
        )
    )
    own_made = during(col(Opportunity.created_at))
    own_won = [
        col(Opportunity.status) == OpportunityStatus.WON,
        *during(col(Opportunity.closed_at)),
    ]
    own_revenue = func.coalesce(func.sum(col(Opportunity.amount_cents)).filter(*own_won), 0)
    opportunity_kind, opportunity_ident = col(Opportunity.source_kind), col(Opportunity.source_id)
    own = part(
        opportunity_kind,
        opportunity_ident,
        said_yes=func.count().filter(*own_made),
        won=func.count().filter(*own_won),
        revenue_cents=own_revenue,
        own_revenue_cents=own_revenue,
    ).where(
        col(Opportunity.business_id) == business_id,
        *of_source(opportunity_kind, opportunity_ident),
        *made_or_closed(col(Opportunity.created_at), col(Opportunity.closed_at)),
    )
    commissions = (
        part(
            source_kind,
            source_ident,
            commission_cents=func.coalesce(func.sum(col(Commission.amount_cents)), 0),
        )
        .select_from(Commission)
        .join(OfferReferral, col(OfferReferral.referral_id) == col(Commission.referral_id))
        .where(
            col(Commission.referrer_id) == business_id,
            col(Commission.status).in_(EARNED),
            *of_source(source_kind, source_ident),
            *during(col(Commission.created_at)),
        )
    )
    return union_all(unsubscribes, referred, own, commissions)


def forget_customer(session: Session, customer: Customer) -> None:
    """An erased customer leaves every campaign not yet sent to them."""
    session.execute(
        update(CampaignRecipient)
        .where(
            col(CampaignRecipient.customer_id) == customer.id,
            col(CampaignRecipient.status) == RecipientStatus.QUEUED,
        )
        .values(status=RecipientStatus.CANCELLED, error="customer erased")
    )
