"""Follow-ups after a job: "N days after a job (of trade X), at H o'clock in
the business's time zone, email the customer this message with these offers".

The job worker runs `send_due_follow_ups` every few minutes. For each active
rule it finds the jobs whose moment came (job date + N days, at the rule's
local hour) within the last LOOKBACK, so turning a rule on does not mail the
whole history, and handles each (rule, job) once: a row in follow_up_send
(unique per rule and job) is written in the same transaction as the email is
handed to the mail server, so a second run or a second worker never sends it
again. Who may receive it is customers/marketing.py's rule, checked for each
email; a customer who already said yes to every offer of the rule is skipped.
One failing rule or customer never stops the others: each is isolated and
recorded.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, exists, func, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from referral.auth.roles import MANAGING_ROLES, require_role
from referral.businesses.actor import Actor
from referral.businesses.models import Business
from referral.campaigns import services
from referral.campaigns.models import FollowUpRule, FollowUpSend, FollowUpStatus
from referral.campaigns.services import INVALID
from referral.customers import marketing
from referral.customers.models import Customer, CustomerJob
from referral.db import utcnow
from referral.errors import DomainError, NotFound, ValidationFailed
from referral.jobs.queue import job_handler, keep_scheduled, recurring
from referral.jobs.worker import PermanentJobError
from referral.localtime import zone
from referral.mail.delivery import HardBounce, TemporaryDeliveryError, deliver, kept_open
from referral.offers.links import Source, offer_links
from referral.offers.models import Offer, OfferReferral, Opportunity, SourceKind

log = logging.getLogger(__name__)

SEND_FOLLOW_UPS = "send_follow_ups"
EVERY = dt.timedelta(minutes=15)
# A job whose moment passed longer ago than this is not followed up (a rule
# turned on today does not mail every past customer).
LOOKBACK_DAYS = 3
DEFAULT_HOUR = 10
MAX_DAYS = 365
ALREADY_TOOK = "The customer already said yes to every offer of this rule."


class FollowUpConflict(DomainError):
    status = 409


# --- Rules ----------------------------------------------------------------------------------


def _require_managing(actor: Actor) -> None:
    require_role(actor.role, MANAGING_ROLES, "Only owners and managers manage follow-ups.")


def get_rule(session: Session, *, business_id: int, rule_id: int) -> FollowUpRule:
    """Fails (NotFound) for another business's rule."""
    rule = session.get(FollowUpRule, rule_id)
    if rule is None or rule.business_id != business_id:
        raise NotFound("No such follow-up rule.")
    return rule


def list_rules_query(*, business_id: int) -> Any:
    return (
        select(FollowUpRule)
        .where(FollowUpRule.business_id == business_id)
        .order_by(col(FollowUpRule.id).desc())
    )


def _checked(
    session: Session,
    actor: Actor,
    *,
    name: str,
    days_after: int,
    trade: str,
    subject: str,
    body: str,
    offer_ids: list[int],
    send_hour: int,
    kept_offer_ids: list[int] | None = None,
) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    if not 1 <= days_after <= MAX_DAYS:
        errors["days_after"] = [f"Give a number of days from 1 to {MAX_DAYS}."]
    if not 0 <= send_hour <= 23:
        errors["send_hour"] = ["Give an hour from 0 to 23."]
    if not " ".join(name.split()):
        errors["name"] = ["Give the rule a name."]
    if errors:
        raise ValidationFailed(INVALID, errors=errors)
    services.check_merge_fields(subject=subject, body=body)
    return {
        "name": " ".join(name.split())[:120],
        "days_after": days_after,
        "trade": trade.strip()[:60],
        "subject": " ".join(subject.split()),
        "body": body.replace("\r\n", "\n"),
        "offer_ids": services.check_offers(
            session, actor.business_id, offer_ids, kept=kept_offer_ids or []
        ),
        "send_hour": send_hour,
    }


def create_rule(
    session: Session,
    *,
    actor: Actor,
    name: str,
    days_after: int,
    subject: str,
    body: str,
    trade: str = "",
    offer_ids: list[int] | None = None,
    send_hour: int = DEFAULT_HOUR,
    active: bool = True,
) -> FollowUpRule:
    """A follow-up rule. Fails (PermissionDenied) for staff, (ValidationFailed
    naming the field) on days or hour out of range, an unknown merge field or
    an offer the business may not include."""
    _require_managing(actor)
    values = _checked(
        session,
        actor,
        name=name,
        days_after=days_after,
        trade=trade,
        subject=subject,
        body=body,
        offer_ids=offer_ids or [],
        send_hour=send_hour,
    )
    rule = FollowUpRule(
        business_id=actor.business_id, created_by_id=actor.user_id, active=active, **values
    )
    session.add(rule)
    session.flush()
    return rule


def update_rule(
    session: Session,
    *,
    actor: Actor,
    rule_id: int,
    name: str,
    days_after: int,
    subject: str,
    body: str,
    trade: str = "",
    offer_ids: list[int] | None = None,
    send_hour: int = DEFAULT_HOUR,
) -> FollowUpRule:
    """Change a rule (its sends so far stay). Fails like create_rule, and
    (NotFound) for another business's rule."""
    _require_managing(actor)
    rule = get_rule(session, business_id=actor.business_id, rule_id=rule_id)
    values = _checked(
        session,
        actor,
        name=name,
        days_after=days_after,
        trade=trade,
        subject=subject,
        body=body,
        offer_ids=offer_ids or [],
        send_hour=send_hour,
        kept_offer_ids=rule.offer_ids,
    )
    for key, value in values.items():
        setattr(rule, key, value)
    rule.updated_at = utcnow()
    session.flush()
    return rule


# What a PATCH may change: the fields of update_rule.
EDITABLE = ("name", "days_after", "trade", "subject", "body", "offer_ids", "send_hour")


def change_rule(
    session: Session, *, actor: Actor, rule_id: int, changes: dict[str, Any]
) -> FollowUpRule:
    """Change only the given fields of a rule (the others stay as they are),
    checked as a whole like update_rule. Fails like update_rule."""
    _require_managing(actor)
    rule = get_rule(session, business_id=actor.business_id, rule_id=rule_id)
    values = {name: getattr(rule, name) for name in EDITABLE}
    values.update({name: value for name, value in changes.items() if name in EDITABLE})
    return update_rule(session, actor=actor, rule_id=rule_id, **values)


def set_active(session: Session, *, actor: Actor, rule_id: int, active: bool) -> FollowUpRule:
    """Pause (nothing more is sent) or resume a rule. Fails (FollowUpConflict)
    when it already is."""
    _require_managing(actor)
    rule = get_rule(session, business_id=actor.business_id, rule_id=rule_id)
    if rule.active == active:
        raise FollowUpConflict(
            "This rule is already running." if active else "This rule is already paused."
        )
    rule.active = active
    rule.updated_at = utcnow()
    session.flush()
    return rule


def rule_counts(session: Session, rule: FollowUpRule) -> dict[str, int]:
    """How many jobs the rule sent, skipped and failed."""
    counts = dict.fromkeys((s.value for s in FollowUpStatus), 0)
    rows = session.exec(
        select(FollowUpSend.status, func.count())
        .where(FollowUpSend.rule_id == rule.id)
        .group_by(FollowUpSend.status)
    ).all()
    for status, count in rows:
        counts[status] = count
    counts["total"] = sum(counts.values())
    return counts


def rule_results(session: Session, rule: FollowUpRule) -> dict[str, int]:
    """What the rule brought, measured as a campaign's results are."""
    assert rule.id is not None
    return services.source_results(
        session, business_id=rule.business_id, kind=SourceKind.FOLLOW_UP, source_id=rule.id
    )


def recent_sends(session: Session, rule: FollowUpRule, limit: int = 20) -> list[FollowUpSend]:
    return list(
        session.exec(
            select(FollowUpSend)
            .where(FollowUpSend.rule_id == rule.id)
            .order_by(col(FollowUpSend.id).desc())
            .limit(limit)
        )
    )


# --- Preview --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    customer: Customer | None
    subject: str
    body: str


def preview(
    session: Session,
    *,
    business: Business,
    subject: str,
    body: str,
    customer_id: int | None = None,
) -> Preview:
    """The message as a real customer would read it: the chosen customer, or
    the one whose job is the most recent. Fails (NotFound) for a customer of
    another business or an erased one."""
    customer: Customer | None
    if customer_id is not None:
        customer = session.get(Customer, customer_id)
        if customer is None or customer.business_id != business.id or customer.erased:
            raise NotFound("No such customer.")
    else:
        customer = session.exec(
            select(Customer)
            .join(CustomerJob, col(CustomerJob.customer_id) == Customer.id)
            .where(Customer.business_id == business.id, col(Customer.erased_at).is_(None))
            .order_by(col(CustomerJob.job_date).desc(), col(CustomerJob.id).desc())
            .limit(1)
        ).first()
    if customer is None:
        return Preview(customer=None, subject=subject, body=body)
    values = services.merge_values(session, business, customer)
    return Preview(
        customer=customer,
        subject=services.merge(subject, values),
        body=services.merge(body, values),
    )


# --- Sending --------------------------------------------------------------------------------


def due_job_dates(rule: FollowUpRule, now_local: dt.datetime) -> tuple[dt.date, dt.date]:
    """The first and last job date whose follow-up is due at `now_local` (in
    the business's zone): its day is today once the rule's hour has come
    (yesterday before that), and not more than LOOKBACK_DAYS earlier. Local
    wall-clock hours: on the day clocks spring forward past the hour, it sends
    at the first hour after; when they fall back, the unique (rule, job)
    keeps the repeated hour from sending twice."""
    today = now_local.date()
    last_send_day = today if now_local.hour >= rule.send_hour else today - dt.timedelta(days=1)
    first_send_day = last_send_day - dt.timedelta(days=LOOKBACK_DAYS)
    days = dt.timedelta(days=rule.days_after)
    return first_send_day - days, last_send_day - days


def due_jobs(session: Session, rule: FollowUpRule, now: dt.datetime) -> list[tuple[int, int]]:
    """(job id, customer id) of the jobs this rule should handle now and has not."""
    business = session.get(Business, rule.business_id)
    assert business is not None
    first, last = due_job_dates(rule, now.astimezone(zone(business.zone_name)))
    query = select(CustomerJob.id, CustomerJob.customer_id).where(
        CustomerJob.business_id == rule.business_id,
        col(CustomerJob.job_date) >= first,
        col(CustomerJob.job_date) <= last,
        ~exists().where(
            col(FollowUpSend.rule_id) == rule.id,
            col(FollowUpSend.customer_job_id) == CustomerJob.id,
        ),
    )
    if rule.trade:
        query = query.where(CustomerJob.trade == rule.trade)
    return [
        (job_id or 0, customer_id)
        for job_id, customer_id in session.exec(query.order_by(col(CustomerJob.id)))
    ]


def send_due_follow_ups(engine: Engine, *, now: dt.datetime | None = None) -> dict[str, int]:
    """Handle every due (rule, job) of every active rule; counts by outcome.
    Each rule and each email is isolated: one failing is logged and recorded,
    the others go on."""
    now = now or utcnow()
    totals = dict.fromkeys((s.value for s in FollowUpStatus), 0)
    with Session(engine) as session:
        rule_ids = list(
            session.exec(
                select(FollowUpRule.id)
                .where(col(FollowUpRule.active).is_(True))
                .order_by(col(FollowUpRule.id))
            )
        )
    for rule_id in rule_ids:
        assert rule_id is not None
        try:
            with Session(engine) as session:
                rule = session.get(FollowUpRule, rule_id)
                assert rule is not None
                jobs = due_jobs(session, rule, now)
        except Exception:
            log.exception("follow-up rule %s: finding its due jobs failed", rule_id)
            continue
        with kept_open():  # one SMTP connection for the rule's due emails
            for job_id, customer_id in jobs:
                outcome = _send_isolated(engine, rule_id, job_id, customer_id)
                if outcome is not None:
                    totals[outcome] += 1
    return totals


def _send_isolated(engine: Engine, rule_id: int, job_id: int, customer_id: int) -> str | None:
    try:
        return send_follow_up(engine, rule_id=rule_id, job_id=job_id, customer_id=customer_id)
    except Exception as exc:
        log.exception("follow-up rule %s, job %s failed", rule_id, job_id)
        try:
            with Session(engine) as session:
                if _claim(session, rule_id, job_id, customer_id, FollowUpStatus.FAILED):
                    _set(session, rule_id, job_id, FollowUpStatus.FAILED, f"error: {exc}")
                session.commit()
        except SQLAlchemyError:
            log.exception(
                "follow-up rule %s, job %s: recording the failure failed", rule_id, job_id
            )
            return None
        return FollowUpStatus.FAILED.value


def _claim(
    session: Session, rule_id: int, job_id: int, customer_id: int, status: FollowUpStatus
) -> bool:
    """Write the (rule, job) row; False when another run wrote it first (on
    PostgreSQL the insert waits for that run's transaction)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    table = FollowUpSend.__table__  # type: ignore[attr-defined]
    written = session.execute(
        insert(table)
        .values(
            rule_id=rule_id,
            customer_job_id=job_id,
            customer_id=customer_id,
            status=status,
            reason="",
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["rule_id", "customer_job_id"])
        .returning(table.c.id)  # a rowcount the drivers agree on
    ).first()
    return written is not None


def _set(session: Session, rule_id: int, job_id: int, status: FollowUpStatus, reason: str) -> None:
    session.execute(
        update(FollowUpSend)
        .where(col(FollowUpSend.rule_id) == rule_id, col(FollowUpSend.customer_job_id) == job_id)
        .values(status=status, reason=reason[:300])
    )


def offers_taken(session: Session, customer_id: int, offer_ids: list[int]) -> set[int]:
    """Of these offers, those the customer already said yes to (a referral to
    the partner or an opportunity of the business's own, from any email)."""
    if not offer_ids:
        return set()
    referred = session.exec(
        select(OfferReferral.offer_id).where(
            OfferReferral.customer_id == customer_id, col(OfferReferral.offer_id).in_(offer_ids)
        )
    ).all()
    own = session.exec(
        select(Opportunity.offer_id).where(
            Opportunity.customer_id == customer_id, col(Opportunity.offer_id).in_(offer_ids)
        )
    ).all()
    return set(referred) | set(own)


class _TryLater(Exception):
    """The mail server refused for now (4xx, or could not be reached)."""


def send_follow_up(engine: Engine, *, rule_id: int, job_id: int, customer_id: int) -> str | None:
    """Handle one (rule, job) in a transaction of its own: record it, then
    send it or record why not. None when another run handled it already, or
    when the mail server asked to try later: then nothing is recorded and the
    next run tries again while the job is due (LOOKBACK_DAYS), with the same
    Message-ID."""
    with Session(engine, expire_on_commit=False) as session:
        if not _claim(session, rule_id, job_id, customer_id, FollowUpStatus.SENT):
            session.rollback()
            return None
        rule = session.get(FollowUpRule, rule_id)
        customer = session.get(Customer, customer_id)
        assert rule is not None and customer is not None
        business = session.get(Business, rule.business_id)
        assert business is not None
        try:
            status, reason = _deliver(session, rule, business, customer, job_id)
        except _TryLater as later:
            session.rollback()
            log.warning("follow-up rule %s, job %s: to try again: %s", rule_id, job_id, later)
            return None
        if status is not FollowUpStatus.SENT:
            _set(session, rule_id, job_id, status, reason)
        session.commit()
    return status.value


def _deliver(
    session: Session, rule: FollowUpRule, business: Business, customer: Customer, job_id: int
) -> tuple[FollowUpStatus, str]:
    refused = marketing.refusal(session, business=business, customer=customer)
    if refused is not None:
        return FollowUpStatus.SKIPPED, refused
    taken = offers_taken(session, customer.id or 0, rule.offer_ids)
    if rule.offer_ids and taken >= set(rule.offer_ids):
        return FollowUpStatus.SKIPPED, ALREADY_TOOK
    wanted = [i for i in rule.offer_ids if i not in taken]
    offers = session.exec(select(Offer).where(col(Offer.id).in_(wanted))).all() if wanted else []
    links = offer_links(
        session, offers=offers, customer=customer, source=Source(SourceKind.FOLLOW_UP, rule.id or 0)
    )
    values = services.merge_values(session, business, customer)
    message = marketing.compose(
        session,
        business=business,
        customer=customer,
        subject=services.merge(rule.subject, values),
        text_body=services.merge(rule.body, values) + services.offers_section(links),
        message_id=f"<follow-up-{rule.id}-{job_id}@referral.localhost>",
        email=(SourceKind.FOLLOW_UP.value, rule.id or 0),
    )
    if message is None:  # the rule passed above: only the postal address is missing
        return FollowUpStatus.SKIPPED, marketing.NO_POSTAL_ADDRESS
    try:
        deliver(session, message)
    except TemporaryDeliveryError as exc:
        raise _TryLater(str(exc)) from exc
    except PermanentJobError as exc:
        # A hard bounce has already suppressed the address (and committed).
        return FollowUpStatus.FAILED, "hard bounce" if isinstance(exc, HardBounce) else str(exc)
    return FollowUpStatus.SENT, ""


# --- The worker -----------------------------------------------------------------------------


@job_handler(SEND_FOLLOW_UPS)
def run_follow_ups(session: Session, _payload: dict[str, Any]) -> None:
    """Every EVERY: send what is due, then queue the next run."""
    engine: Engine = session.get_bind()  # type: ignore[assignment]
    totals = send_due_follow_ups(engine)
    if any(totals.values()):
        log.info("follow-ups: %s", ", ".join(f"{n} {k}" for k, n in totals.items()))
    keep_scheduled(session, SEND_FOLLOW_UPS, after=EVERY)


@recurring
def keep_follow_ups_queued(session: Session) -> None:
    keep_scheduled(session, SEND_FOLLOW_UPS, after=dt.timedelta(0))
