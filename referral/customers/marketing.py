"""Marketing email: the one rule for whom a business may email its offers.

Marketing permission is not referral consent (docs/architecture.md, DESIGN
section 10): it says this business may email this customer its own and its
partners' offers. A customer may be emailed when all of these hold, checked
when the email is queued and again when the job worker sends it:

- the customer is not erased and has an email address;
- their permission is granted (a checkbox on the customer or job form, an
  import column with the date and how it was obtained, or their own
  confirmation of a double opt-in email);
- their address is not on the business's suppression list. Unsubscribing and
  a hard bounce put it there; an import or a form saying "yes" does not take
  it off; only the customer's own new opt-in does;
- the business has a postal address (CAN-SPAM: every message shows it).

Every marketing email carries a one-click unsubscribe (RFC 8058): the
`List-Unsubscribe` and `List-Unsubscribe-Post` headers and a link in the body,
honoured at once. `permitted_customers` is the same rule as a SQL condition,
for choosing many recipients in one statement.
"""

from __future__ import annotations

import datetime as dt
import logging
from email.utils import make_msgid
from typing import Any

from flask import current_app
from itsdangerous import BadData, BadSignature, URLSafeSerializer, URLSafeTimedSerializer
from sqlalchemy import ColumnElement, and_, delete, exists, func, update
from sqlalchemy import insert as sa_insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from referral.auth.links import absolute_url
from referral.businesses.models import Business
from referral.customers.models import (
    Customer,
    MarketingPermission,
    MarketingPermissionEvent,
    MarketingSuppression,
    PermissionChange,
    PermissionSource,
    SuppressionReason,
)
from referral.db import utcnow
from referral.errors import DomainError, NotFound
from referral.jobs.models import Job
from referral.jobs.queue import enqueue, job_handler
from referral.mail.delivery import deliver, on_hard_bounce
from referral.mail.services import queue_email

log = logging.getLogger(__name__)

# The marketing email a link was in: its kind ("campaign", "follow_up") and id.
EmailSource = tuple[str, int]

MARKETING_EMAIL = "send_marketing_email"
OPT_IN_VALID_FOR = dt.timedelta(days=30)
# A business may ask a customer to confirm once in this time, not more often.
OPT_IN_ASK_EVERY = dt.timedelta(days=7)
ONE_CLICK = "List-Unsubscribe=One-Click"

NO_POSTAL_ADDRESS = (
    "Add your postal address to your business profile first: the law (CAN-SPAM) "
    "requires it in every marketing email, so none is sent without it."
)


class MarketingRefused(DomainError):
    """The rule refuses this marketing email (no permission, suppressed, ...)."""

    status = 409


def normalise_email(address: str) -> str:
    return address.strip().lower()


# --- The rule -------------------------------------------------------------------------------


def is_suppressed(session: Session, *, business_id: int, email: str) -> bool:
    return (
        session.exec(
            select(MarketingSuppression.id).where(
                MarketingSuppression.business_id == business_id,
                MarketingSuppression.email == normalise_email(email),
            )
        ).first()
        is not None
    )


def suppression_of(session: Session, customer: Customer) -> MarketingSuppression | None:
    if not customer.email:
        return None
    return session.exec(
        select(MarketingSuppression).where(
            MarketingSuppression.business_id == customer.business_id,
            MarketingSuppression.email == normalise_email(customer.email),
        )
    ).first()


def refusal(
    session: Session, *, business: Business, customer: Customer, suppressed: bool | None = None
) -> str | None:
    """Why `business` may not email `customer` its offers, or None when it may.
    `suppressed`: the suppression list's answer when it was read with the
    customer (`suppressed_condition`), saving a query per email."""
    if customer.business_id != business.id:
        return "This is not your customer."
    if customer.erased:
        return "The customer's data is erased."
    if not customer.email:
        return "The customer has no email address."
    if customer.marketing_permission != MarketingPermission.GRANTED:
        return "The customer has not given permission to receive offers by email."
    if suppressed is None:
        suppressed = is_suppressed(session, business_id=business.id, email=customer.email)
    if suppressed:
        return "The customer unsubscribed or their address bounced (suppressed)."
    return None


def permitted_customers(business_id: int) -> ColumnElement[bool]:
    """The rule as a condition on `customer` (without the postal address,
    which is the business's): for an INSERT ... SELECT of many recipients."""
    return and_(
        col(Customer.business_id) == business_id,
        col(Customer.erased_at).is_(None),
        col(Customer.email) != "",
        col(Customer.marketing_permission) == MarketingPermission.GRANTED,
        ~suppressed_condition(business_id),
    )


def suppressed_condition(business_id: int) -> ColumnElement[bool]:
    """Is `customer`'s address on the business's suppression list, as SQL."""
    return exists().where(
        col(MarketingSuppression.business_id) == business_id,
        col(MarketingSuppression.email) == func.lower(Customer.email),
    )


def require_postal_address(business: Business) -> None:
    """Fails (MarketingRefused) without one."""
    if not business.postal_address.strip():
        raise MarketingRefused(NO_POSTAL_ADDRESS)


# --- Permission changes and the suppression list --------------------------------------------


def _record(
    session: Session,
    customer: Customer,
    change: PermissionChange,
    source: PermissionSource,
    *,
    occurred_on: dt.date | None = None,
    how: str = "",
    user_id: int | None = None,
    email: EmailSource | None = None,
) -> MarketingPermissionEvent:
    assert customer.id is not None
    event = MarketingPermissionEvent(
        business_id=customer.business_id,
        customer_id=customer.id,
        change=change,
        source=source,
        occurred_on=occurred_on or utcnow().date(),
        how=" ".join(how.split())[:200],
        user_id=user_id,
        email_kind=email[0] if email else None,
        email_id=email[1] if email else None,
    )
    session.add(event)
    return event


def grant_permission(
    session: Session,
    *,
    customer: Customer,
    source: PermissionSource,
    occurred_on: dt.date | None = None,
    how: str = "",
    user_id: int | None = None,
) -> MarketingPermissionEvent:
    """Record that the customer agreed to receive offers by email. Only their
    own confirmation (DOUBLE_OPT_IN) lifts a suppression; any other grant is
    recorded and leaves the address suppressed."""
    if customer.erased:
        raise MarketingRefused("The customer's data is erased.")
    day = occurred_on or utcnow().date()
    customer.marketing_permission = MarketingPermission.GRANTED
    customer.marketing_permission_date = day
    customer.marketing_permission_source = (how or source.label)[:120]
    customer.updated_at = utcnow()
    if source is PermissionSource.DOUBLE_OPT_IN and customer.email:
        session.execute(
            delete(MarketingSuppression).where(
                MarketingSuppression.business_id == customer.business_id,  # type: ignore[arg-type]
                MarketingSuppression.email == normalise_email(customer.email),  # type: ignore[arg-type]
            )
        )
    event = _record(
        session,
        customer,
        PermissionChange.GRANTED,
        source,
        occurred_on=day,
        how=how,
        user_id=user_id,
    )
    session.flush()
    return event


def withdraw_permission(
    session: Session,
    *,
    customer: Customer,
    source: PermissionSource,
    how: str = "",
    user_id: int | None = None,
    email: EmailSource | None = None,
) -> MarketingPermissionEvent:
    """Record that the customer no longer wants offers by email (from the
    link in `email`, when they used one), and suppress their address for this
    business at once."""
    customer.marketing_permission = MarketingPermission.REFUSED
    customer.marketing_permission_date = utcnow().date()
    customer.marketing_permission_source = (how or source.label)[:120]
    customer.updated_at = utcnow()
    if customer.email:
        suppress(
            session,
            business_id=customer.business_id,
            email=customer.email,
            reason=SuppressionReason.UNSUBSCRIBED,
        )
    event = _record(
        session, customer, PermissionChange.WITHDRAWN, source, how=how, user_id=user_id, email=email
    )
    session.flush()
    return event


def import_change(old: str | None, new: str) -> PermissionChange | None:
    """What an import (or its undo) setting a customer's permission from `old`
    (None for a customer it creates) to `new` records: a grant, the withdrawal
    of a grant, or nothing (a "no" from someone who never granted it).
    An import's "no" does not suppress the address: only the customer's own
    unsubscribe, a bounce or staff recording their wish do."""
    if new == MarketingPermission.GRANTED and old != MarketingPermission.GRANTED:
        return PermissionChange.GRANTED
    if old == MarketingPermission.GRANTED and new != MarketingPermission.GRANTED:
        return PermissionChange.WITHDRAWN
    return None


def import_event(
    *,
    business_id: int,
    customer_id: int,
    change: PermissionChange,
    occurred_on: dt.date | None,
    how: str,
    user_id: int | None,
) -> dict[str, Any]:
    """One history row for an import's change, to insert with the batch's
    others in one statement (see record_events)."""
    return {
        "business_id": business_id,
        "customer_id": customer_id,
        "change": change.value,
        "source": PermissionSource.IMPORT.value,
        "occurred_on": occurred_on or utcnow().date(),
        "how": " ".join(how.split())[:200],
        "user_id": user_id,
        "created_at": utcnow(),
    }


def record_events(session: Session, events: list[dict[str, Any]]) -> None:
    """Many history rows in one statement (an import's batch)."""
    if events:
        session.execute(sa_insert(MarketingPermissionEvent), events)


def suppress(session: Session, *, business_id: int, email: str, reason: SuppressionReason) -> None:
    """Put the address on the business's suppression list (once)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(MarketingSuppression.__table__)  # type: ignore[attr-defined]
        .values(
            business_id=business_id,
            email=normalise_email(email),
            reason=reason,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["business_id", "email"])
    )


def permission_history(session: Session, customer: Customer) -> list[MarketingPermissionEvent]:
    return list(
        session.exec(
            select(MarketingPermissionEvent)
            .where(MarketingPermissionEvent.customer_id == customer.id)
            .order_by(col(MarketingPermissionEvent.id).desc())
        )
    )


@on_hard_bounce
def suppress_bounced_address(session: Session, address: str, payload: dict[str, Any]) -> None:
    """A hard bounce suppresses the address: for the business that sent a
    marketing email, or (any other email) for every business that has a
    customer with that address."""
    email = normalise_email(address)
    if not email:
        return
    if payload.get("business_id"):
        business_ids = [int(payload["business_id"])]
    else:
        business_ids = list(
            session.exec(
                select(Customer.business_id).where(func.lower(Customer.email) == email).distinct()
            )
        )
    for business_id in business_ids:
        suppress(
            session, business_id=business_id, email=email, reason=SuppressionReason.HARD_BOUNCE
        )


# --- Links: unsubscribe and double opt-in ---------------------------------------------------


def _unsubscribe_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="marketing-unsubscribe")


def unsubscribe_token(customer: Customer, email: EmailSource | None = None) -> str:
    """The unsubscribe link's token; it names the email it is in (`email`:
    ("campaign", 7)), so the unsubscribe counts for that campaign or rule."""
    parts: list[Any] = [customer.business_id, customer.id]
    if email is not None:
        parts += [str(email[0]), int(email[1])]
    return str(_unsubscribe_serializer().dumps(parts))


def _read_unsubscribe_token(session: Session, token: str) -> tuple[Customer, EmailSource | None]:
    try:
        parts = _unsubscribe_serializer().loads(token)
    except BadData as exc:
        raise NotFound("This link is not valid.") from exc
    # Links sent before emails were named in them hold two parts.
    if not isinstance(parts, list) or len(parts) not in (2, 4):
        raise NotFound("This link is not valid.")
    business_id, customer_id = parts[:2]
    customer = session.get(Customer, customer_id) if isinstance(customer_id, int) else None
    if customer is None or customer.business_id != business_id:
        raise NotFound("This link is not valid.")
    kind, email_id = parts[2:] if len(parts) == 4 else (None, None)
    named = isinstance(kind, str) and isinstance(email_id, int)
    return customer, (kind, email_id) if named else None  # type: ignore[return-value]


def customer_from_unsubscribe_token(session: Session, token: str) -> Customer:
    """The customer an unsubscribe link was made for. Fails (NotFound) on a
    forged or altered link, or one naming nobody."""
    customer, _ = _read_unsubscribe_token(session, token)
    return customer


def unsubscribe(session: Session, token: str, *, how: str) -> Customer:
    """The customer's unsubscribe, honoured at once and counted for the email
    the link was in; a second click changes nothing. Fails (NotFound) on a
    bad link."""
    customer, email = _read_unsubscribe_token(session, token)
    already = customer.marketing_permission == MarketingPermission.REFUSED and (
        not customer.email or suppression_of(session, customer) is not None
    )
    if not already and not customer.erased:
        withdraw_permission(
            session, customer=customer, source=PermissionSource.UNSUBSCRIBE, how=how, email=email
        )
    return customer


def _opt_in_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="marketing-opt-in")


def opt_in_token(customer: Customer) -> str:
    return str(_opt_in_serializer().dumps([customer.business_id, customer.id, customer.email]))


def customer_from_opt_in_token(session: Session, token: str) -> Customer:
    """Fails (NotFound) on a forged, altered or expired link, or one made for
    an address the customer no longer has."""
    try:
        business_id, customer_id, email = _opt_in_serializer().loads(
            token, max_age=int(OPT_IN_VALID_FOR.total_seconds())
        )
    except (BadSignature, TypeError, ValueError) as exc:
        raise NotFound("This link is not valid or has expired.") from exc
    customer = session.get(Customer, customer_id) if isinstance(customer_id, int) else None
    if (
        customer is None
        or customer.business_id != business_id
        or customer.erased
        or normalise_email(customer.email) != normalise_email(str(email))
    ):
        raise NotFound("This link is not valid or has expired.")
    return customer


def request_opt_in(
    session: Session, *, business: Business, customer: Customer, user_id: int | None = None
) -> None:
    """Email the customer a link to confirm they want the business's offers
    (double opt-in). Fails (MarketingRefused) for an erased customer, one
    without an address, one whose address bounced, one already permitted, or
    when they were asked within the last week."""
    if customer.business_id != business.id:
        raise NotFound("No such customer.")
    if customer.erased or not customer.email:
        raise MarketingRefused("The customer has no email address.")
    suppressed = suppression_of(session, customer)
    if suppressed is not None and suppressed.reason == SuppressionReason.HARD_BOUNCE:
        raise MarketingRefused("Email to this address bounced: correct the address first.")
    if refusal(session, business=business, customer=customer) is None:
        raise MarketingRefused("The customer already receives your offers.")
    since = utcnow() - OPT_IN_ASK_EVERY
    asked = session.exec(
        select(MarketingPermissionEvent.id).where(
            MarketingPermissionEvent.customer_id == customer.id,
            MarketingPermissionEvent.change == PermissionChange.REQUESTED,
            MarketingPermissionEvent.created_at >= since,
        )
    ).first()
    if asked is not None:
        raise MarketingRefused("The customer was asked within the last week: give them time.")
    queue_email(
        session,
        to=customer.email,
        subject=f"{business.name} asks: may we email you our offers?",
        template="marketing_opt_in",
        business_name=business.name,
        customer_name=customer.name,
        link=absolute_url("marketing.confirm", token=opt_in_token(customer)),
        days=OPT_IN_VALID_FOR.days,
    )
    _record(
        session,
        customer,
        PermissionChange.REQUESTED,
        PermissionSource.DOUBLE_OPT_IN,
        user_id=user_id,
    )
    session.flush()


def confirm_opt_in(session: Session, token: str) -> Customer:
    """The customer's own yes: permission granted, a suppression lifted.
    Fails (NotFound) on a bad or expired link; a second click changes nothing."""
    customer = customer_from_opt_in_token(session, token)
    if (
        customer.marketing_permission != MarketingPermission.GRANTED
        or suppression_of(session, customer) is not None
    ):
        grant_permission(
            session,
            customer=customer,
            source=PermissionSource.DOUBLE_OPT_IN,
            how="Confirmed by the customer (email link)",
        )
    return customer


# --- Composing and sending ------------------------------------------------------------------


def unsubscribe_headers(token: str) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe (and RFC 2369's mailto, when an operator
    reads that mailbox: MARKETING_UNSUBSCRIBE_MAILTO)."""
    targets = [f"<{absolute_url('marketing.unsubscribe', token=token)}>"]
    mailbox = current_app.config.get("MARKETING_UNSUBSCRIBE_MAILTO")
    if mailbox:
        targets.append(f"<mailto:{mailbox}?subject=unsubscribe%20{token}>")
    return {"List-Unsubscribe": ", ".join(targets), "List-Unsubscribe-Post": ONE_CLICK}


def footer(business: Business, unsubscribe_link: str) -> str:
    """What ends every marketing email: who sent it, where, and the way out."""
    address = ", ".join(
        line.strip() for line in business.postal_address.splitlines() if line.strip()
    )
    return (
        f"You receive this email because you are a customer of {business.name} "
        "and agreed to receive its offers.\n"
        f"Unsubscribe with one click: {unsubscribe_link}\n\n"
        f"{business.name}, {address}"
    )


def compose(
    session: Session,
    *,
    business: Business,
    customer: Customer,
    subject: str,
    text_body: str,
    message_id: str,
    suppressed: bool | None = None,
    email: EmailSource | None = None,
) -> dict[str, Any] | None:
    """The mail payload of one marketing email, or None when the rule refuses
    it now (checked at send time: what was queued may no longer be allowed).
    `suppressed`: the suppression list's answer read with the customer.
    `email` names what sends it (("campaign", 7)): its unsubscribe counts there."""
    reason = refusal(session, business=business, customer=customer, suppressed=suppressed)
    if reason is None and not business.postal_address.strip():
        reason = NO_POSTAL_ADDRESS
    if reason is not None:
        log.info("marketing email to customer %s not sent: %s", customer.id, reason)
        return None
    token = unsubscribe_token(customer, email)
    link = absolute_url("marketing.unsubscribe", token=token)
    return {
        "to": customer.email,
        "subject": " ".join(subject.split()),
        "text": f"{text_body.rstrip()}\n\n-- \n{footer(business, link)}\n",
        "html": "",
        "headers": unsubscribe_headers(token),
        "message_id": message_id,
        "business_id": business.id,
    }


def queue_marketing_email(
    session: Session,
    *,
    business: Business,
    customer: Customer,
    subject: str,
    text_body: str,
    source: str,
    run_at: dt.datetime | None = None,
) -> Job:
    """Queue one marketing email (plain text; the footer and unsubscribe are
    added when it is sent). `source` names what sent it ("campaign 7").
    Fails (MarketingRefused) without a postal address or when the rule
    refuses this customer; the worker checks the rule again before sending."""
    require_postal_address(business)
    reason = refusal(session, business=business, customer=customer)
    if reason is not None:
        raise MarketingRefused(reason)
    return enqueue(
        session,
        MARKETING_EMAIL,
        {
            "business_id": business.id,
            "customer_id": customer.id,
            "subject": subject,
            "text": text_body,
            "source": source,
            "message_id": make_msgid(domain="referral.localhost"),
        },
        run_at=run_at,
    )


@job_handler(MARKETING_EMAIL)
def send_marketing_email(session: Session, payload: dict[str, Any]) -> None:
    """Send one queued marketing email if the rule still allows it."""
    business = session.get(Business, payload.get("business_id"))
    customer = session.get(Customer, payload.get("customer_id"))
    if business is None or customer is None:
        return
    message = compose(
        session,
        business=business,
        customer=customer,
        subject=payload["subject"],
        text_body=payload["text"],
        message_id=payload["message_id"],
    )
    if message is not None:
        deliver(session, message)


def forget_pending_sends(session: Session, customer: Customer) -> None:
    """An erased customer: their marketing email not yet sent is cancelled,
    and every queued or sent job keeps no text. In the caller's transaction."""
    jobs = session.exec(
        select(Job).where(
            Job.kind == MARKETING_EMAIL,
            Job.payload["customer_id"].as_integer() == customer.id,  # type: ignore[index]
        )
    )
    for job in jobs:
        if job.status == "queued":
            job.status, job.finished_at = "done", utcnow()
            job.last_error = "cancelled: recipient erased"
        job.payload = {**job.payload, "subject": "", "text": ""}
    session.execute(
        update(MarketingPermissionEvent)
        .where(MarketingPermissionEvent.customer_id == customer.id)  # type: ignore[arg-type]
        .values(how="")
    )
