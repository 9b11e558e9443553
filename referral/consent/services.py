"""Consent: ask by an emailed single-use link, or record a staff attestation;
withdraw with one click. No personal data reaches the receiving business
without a record made here."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from dataclasses import dataclass
from typing import Any

from flask import current_app, render_template
from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer
from sqlalchemy import Select, bindparam, exists, or_, update
from sqlmodel import Session, select

from referral import events
from referral.auth.models import User
from referral.auth.tokens import hash_token, new_token
from referral.businesses.models import Business, Trade
from referral.consent import subjects
from referral.consent.models import ConsentMethod, ConsentRecord, ConsentRequest, ConsentWithdrawal
from referral.consent.visibility import ConsentState
from referral.customers.models import Customer
from referral.db import utcnow
from referral.errors import DomainError, NotFound, ValidationFailed
from referral.mail.services import queue_email

TEXT_VERSION = "v1"
LEAD_TEXT_VERSION = "lead-v1"
REQUEST_VALID_FOR = dt.timedelta(days=7)
# How long a "My consents" link works; every page a customer reaches from one
# of their links offers a fresh one.
MY_CONSENTS_VALID_FOR = dt.timedelta(days=90)
# Staff record a consent the customer gave them at most this long ago.
ATTESTATION_MAX_AGE = dt.timedelta(days=365)


def _method_label(method: str) -> str:
    """The receipt's words for `method`; the stored value if it is not one we know."""
    try:
        return ConsentMethod(method).label
    except ValueError:
        return method


def data_categories(customer: Customer) -> list[str]:
    """What would be shared: the customer's contact details that exist, and the need."""
    present = [
        ("name", customer.name),
        ("email address", customer.email),
        ("phone number", customer.phone),
        ("address", customer.address),
    ]
    return [label for label, value in present if value] + ["what you need done"]


@dataclass(frozen=True)
class ConsentText:
    version: str
    text: str
    sha256: str
    categories: list[str]


def consent_text(
    session: Session, *, referrer: Business, receiver: Business, customer: Customer, need: str
) -> ConsentText:
    """The exact text a customer agrees to, and its SHA-256."""
    trade = session.get(Trade, receiver.trade_id)
    categories = data_categories(customer)
    text = render_template(
        f"consent/text_{TEXT_VERSION}.txt",
        referrer=referrer,
        receiver=receiver,
        receiver_trade=trade.name if trade else "",
        need=need,
        categories=categories,
    ).strip()
    return ConsentText(
        TEXT_VERSION, text, hashlib.sha256(text.encode("utf-8")).hexdigest(), categories
    )


def lead_consent_text(
    session: Session, *, seller: Business, lead: Any, customer: Customer
) -> ConsentText:
    """The exact text for offering a lead: it names the marketplace, the buyers'
    trade and area, and how many may buy, since the buyers are not known yet."""
    trade = session.get(Trade, lead.trade_id)
    categories = data_categories(customer)
    text = render_template(
        f"consent/text_{LEAD_TEXT_VERSION}.txt",
        seller=seller,
        trade=trade.name if trade else "",
        need=lead.need,
        zip_code=lead.zip_code,
        max_buyers=lead.max_buyers,
        categories=categories,
    ).strip()
    return ConsentText(
        LEAD_TEXT_VERSION, text, hashlib.sha256(text.encode("utf-8")).hexdigest(), categories
    )


def _withdrawal_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="consent-withdrawal")


def withdrawal_link(record: ConsentRecord) -> str:
    token = _withdrawal_serializer().dumps(record.id)
    return f"{current_app.config['BASE_URL']}/consent/withdraw/{token}"


def _my_consents_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="my-consents")


def my_consents_link(customer_id: int) -> str:
    """A link to every consent this person gave the customer's business (valid 90 days)."""
    token = _my_consents_serializer().dumps(customer_id)
    return f"{current_app.config['BASE_URL']}/consent/mine/{token}"


def customer_from_my_consents_token(session: Session, token: str) -> Customer:
    """The customer a "My consents" link was made for. Fails (NotFound) on a
    forged, altered or expired link."""
    try:
        customer_id = _my_consents_serializer().loads(
            token, max_age=int(MY_CONSENTS_VALID_FOR.total_seconds())
        )
    except BadSignature as exc:
        raise NotFound("This link is not valid or has expired.") from exc
    customer = session.get(Customer, customer_id) if isinstance(customer_id, int) else None
    if customer is None:
        raise NotFound("This link is not valid or has expired.")
    return customer


def my_consents(session: Session, customer: Customer) -> list[dict[str, Any]]:
    """Every consent given or refused with this customer's email address or
    phone number to the business that holds the customer, newest first, each
    with its receipt and withdrawal link."""
    same_person = [Customer.id == customer.id]
    if customer.email:
        same_person.append(Customer.email == customer.email)
    if customer.phone:
        same_person.append(Customer.phone == customer.phone)
    records = session.exec(
        select(ConsentRecord)
        .join(Customer, Customer.id == ConsentRecord.customer_id)
        .where(
            ConsentRecord.referring_business_id == customer.business_id,
            Customer.business_id == customer.business_id,
            or_(*same_person),
        )
        .order_by(ConsentRecord.id.desc())
    ).all()
    return [
        {
            **receipt(session, r),
            "withdraw_link": withdrawal_link(r),
            "receipt_link": receipt_link(r),
        }
        for r in records
    ]


def receipt_link(record: ConsentRecord) -> str:
    token = _withdrawal_serializer().dumps(record.id)
    return f"{current_app.config['BASE_URL']}/consent/receipt/{token}"


def check_attested_on(
    attested_on: dt.date | None, *, required: bool = True, today: dt.date | None = None
) -> None:
    """A consent staff record was given on a real day: not in the future, not
    more than a year ago. Fails (ValidationFailed on `attested_on`)."""
    if attested_on is None:
        if not required:
            return
        raise ValidationFailed(
            "Some fields are not valid.", errors={"attested_on": ["When did the customer agree?"]}
        )
    today = today or utcnow().date()
    if attested_on > today:
        message = "The day the customer agreed cannot be in the future."
    elif attested_on < today - ATTESTATION_MAX_AGE:
        message = "Record a consent given within the last year; ask the customer again."
    else:
        return
    raise ValidationFailed("Some fields are not valid.", errors={"attested_on": [message]})


def record_from_withdrawal_token(session: Session, token: str) -> ConsentRecord:
    try:
        record_id = _withdrawal_serializer().loads(token)
    except BadSignature as exc:
        raise NotFound("This link is not valid.") from exc
    record = session.get(ConsentRecord, record_id)
    if record is None:
        raise NotFound("This link is not valid.")
    return record


def request_consent(
    session: Session,
    *,
    customer: Customer,
    referrer: Business,
    receiver: Business | None = None,
    referral: Any = None,
    lead: Any = None,
    receiver_description: str = "",
) -> ConsentRequest:
    """Email the customer a single-use link to say yes or no (valid 7 days), about
    a referral to `receiver` or a lead offered to the businesses described."""
    if not customer.email:
        raise DomainError(
            "The customer has no email address to ask. Add one, or record the consent "
            "they gave you by phone, in person or in writing.",
            errors={"consent_method": ["This customer has no email address."]},
        )
    raw, digest = new_token()
    request = ConsentRequest(
        referral_id=referral.id if referral is not None else None,
        lead_id=lead.id if lead is not None else None,
        customer_id=customer.id,
        token_hash=digest,
        sent_to=customer.email,
        expires_at=utcnow() + REQUEST_VALID_FOR,
    )
    session.add(request)
    queue_email(
        session,
        to=customer.email,
        subject=f"{referrer.name} asks before sharing your details with "
        f"{receiver.name if receiver else receiver_description}",
        template="consent_request",
        customer=customer,
        referrer=referrer,
        receiver_name=receiver.name if receiver else receiver_description,
        link=f"{current_app.config['BASE_URL']}/consent/{raw}",
        days=REQUEST_VALID_FOR.days,
        my_consents_link=my_consents_link(customer.id or 0),
    )
    # Written with the request's other rows, in one flush (nothing here needs its id).
    return request


class AlreadyAnswered(DomainError):
    """The consent link was used: its page shows the decision instead."""

    def __init__(self, request: ConsentRequest) -> None:
        super().__init__("You have already answered this request. Thank you.")
        self.request = request


def find_consent_request(session: Session, token: str) -> ConsentRequest | None:
    return session.exec(
        select(ConsentRequest).where(ConsentRequest.token_hash == hash_token(token))
    ).first()


def claim_consent_request(session: Session, request: ConsentRequest) -> None:
    """Mark the link used, by a conditional UPDATE: of two answers sent at once
    only one claims it (the other fails with AlreadyAnswered)."""
    now = utcnow()
    claimed = session.execute(
        update(ConsentRequest)
        .where(ConsentRequest.id == request.id, ConsentRequest.used_at.is_(None))  # type: ignore[union-attr]
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        session.refresh(request)
        raise AlreadyAnswered(request)
    request.used_at = now


def open_consent_request(session: Session, token: str) -> ConsentRequest:
    """The request a link stands for. Fails (DomainError) when used
    (AlreadyAnswered), expired or unknown."""
    request = find_consent_request(session, token)
    if request is None:
        raise DomainError("This link is not valid. It may have been mistyped.")
    if request.used_at is not None:
        raise AlreadyAnswered(request)
    if request.expires_at <= utcnow():
        raise DomainError(
            "This link has expired. If you still want to be contacted, "
            "ask the business that referred you."
        )
    return request


def add_consent_record(
    session: Session,
    *,
    customer: Customer,
    referral: Any = None,
    lead: Any = None,
    text: ConsentText,
    purpose: str,
    method: str,
    decision: str,
    ip: str = "",
    user_agent: str = "",
    attested_by_user_id: int | None = None,
    attested_on: dt.date | None = None,
    evidence_sha256: str = "",
    evidence_content_type: str = "",
    evidence_size: int | None = None,
    source: str = "",
) -> ConsentRecord:
    """Write the customer's answer; a consent given is confirmed to them by email.
    `source` names what carried a campaign click ("campaign:12")."""
    record = ConsentRecord(
        customer_id=customer.id,
        referral_id=referral.id if referral is not None else None,
        lead_id=lead.id if lead is not None else None,
        referring_business_id=referral.sender_id if referral is not None else lead.seller_id,
        receiving_business_id=referral.receiver_id if referral is not None else None,
        data_categories=text.categories,
        purpose=purpose,
        text_version=text.version,
        text=text.text,
        text_sha256=text.sha256,
        method=method,
        decision=decision,
        ip=ip[:45],
        user_agent=user_agent[:255],
        attested_by_user_id=attested_by_user_id,
        attested_on=attested_on,
        evidence_sha256=evidence_sha256,
        evidence_content_type=evidence_content_type,
        evidence_size=evidence_size,
        evidence_uploaded_at=utcnow() if evidence_sha256 else None,
        source=source,
    )
    session.add(record)
    session.flush()
    events.consent_recorded(session, record, decision)
    if decision == "given":
        send_confirmation(session, record, customer=customer)
    return record


def send_confirmation(session: Session, record: ConsentRecord, *, customer: Customer) -> None:
    """Every consent given ends in the customer's inbox, whatever the method:
    who receives their details, why, the day they agreed, the SHA-256 of the
    text they agreed to, and a one-click withdrawal link."""
    if not customer.email:
        return  # a phone-only customer: the business that holds them tells them
    facts = receipt(session, record)
    queue_email(
        session,
        to=customer.email,
        subject=f"You agreed: {facts['referring_business']} shares your details with "
        f"{facts['receiving_business']}",
        template="consent_confirmation",
        customer=customer,
        receipt=facts,
        withdraw_link=withdrawal_link(record),
        receipt_link=receipt_link(record),
        my_consents_link=my_consents_link(customer.id or 0),
    )


def latest_record(
    session: Session, referral_id: int | None = None, *, lead_id: int | None = None
) -> ConsentRecord | None:
    subject = (
        ConsentRecord.lead_id == lead_id
        if lead_id is not None
        else ConsentRecord.referral_id == referral_id
    )
    return session.exec(
        select(ConsentRecord).where(subject).order_by(ConsentRecord.id.desc())
    ).first()


def is_withdrawn(session: Session, record: ConsentRecord) -> bool:
    return withdrawal_of(session, record) is not None


def withdrawal_of(session: Session, record: ConsentRecord) -> ConsentWithdrawal | None:
    return session.exec(
        select(ConsentWithdrawal).where(ConsentWithdrawal.consent_record_id == record.id)
    ).first()


def consent_in_force(
    session: Session, referral_id: int | None = None, *, lead_id: int | None = None
) -> bool:
    """True when the customer said yes for this referral (or lead) and has not withdrawn."""
    return consent_state(session, referral_id, lead_id=lead_id) is ConsentState.GIVEN


def consent_state(
    session: Session, referral_id: int | None = None, *, lead_id: int | None = None
) -> ConsentState:
    """The consent in force for a referral (or lead): none yet, given, refused or withdrawn."""
    row = session.execute(
        _state_query(by_lead=lead_id is not None),
        {"subject_id": lead_id if lead_id is not None else referral_id},
    ).first()
    if row is None:
        return ConsentState.NONE
    decision, withdrawn = row
    if decision != "given":
        return ConsentState.REFUSED
    return ConsentState.WITHDRAWN if withdrawn else ConsentState.GIVEN


@functools.cache
def _state_query(*, by_lead: bool) -> Select[tuple[str, bool]]:
    """The latest record's decision and whether it was withdrawn, in one
    statement (was two: the record, then its withdrawal), built once: every
    receiver's view of a referral asks it."""
    subject = ConsentRecord.lead_id if by_lead else ConsentRecord.referral_id
    withdrawn = exists().where(ConsentWithdrawal.consent_record_id == ConsentRecord.id)
    return (
        select(ConsentRecord.decision, withdrawn)
        .where(subject == bindparam("subject_id"))
        .order_by(ConsentRecord.id.desc())
        .limit(1)
    )


def agreed_at(record: ConsentRecord) -> str:
    """When the customer agreed (or refused): the day they told staff, for a
    recorded consent; the moment they clicked, for the emailed link (ISO 8601)."""
    if record.attested_on is not None:
        return record.attested_on.isoformat()
    return record.created_at.astimezone(dt.UTC).isoformat(timespec="seconds")


def recorded_by(session: Session, record: ConsentRecord) -> str:
    if record.method == ConsentMethod.CAMPAIGN_CLICK:
        return "the customer, through an offer in an email"
    if record.attested_by_user_id is None:
        return "the customer, through the emailed link"
    user = session.get(User, record.attested_by_user_id)
    referrer = session.get(Business, record.referring_business_id)
    who = user.name if user else "a staff member"
    return f"{who} of {referrer.name}" if referrer else who


def receipt(session: Session, record: ConsentRecord, *, full: bool = True) -> dict[str, Any]:
    """What the customer agreed to, when and how, and a check that the stored
    text still has the SHA-256 taken when it was shown.

    `full=False` is the receipt a receiving business gets while the visibility
    rule hides the customer (referral.consent.visibility): that a consent
    exists, its decision and its hash check, without the customer's name, the
    text or anything else that identifies them."""
    referrer = session.get(Business, record.referring_business_id)
    customer = session.get(Customer, record.customer_id)
    assert referrer and customer
    if record.receiving_business_id is not None:
        receiver = session.get(Business, record.receiving_business_id)
        receiving = receiver.name if receiver else ""
    else:
        receiving = subjects.receiver_name(session, record)
    withdrawal = withdrawal_of(session, record)
    facts: dict[str, Any] = {
        "referral_id": record.referral_id,
        "lead_id": record.lead_id,
        "referring_business": referrer.name,
        "receiving_business": receiving,
        "data_categories": record.data_categories,
        "text_version": record.text_version,
        "text_sha256": record.text_sha256,
        "hash_matches": hashlib.sha256(record.text.encode("utf-8")).hexdigest()
        == record.text_sha256,
        "method": record.method,
        "method_label": _method_label(record.method),
        "decision": record.decision,
        "agreed_at": agreed_at(record),
        "recorded_at": record.created_at,
        "withdrawn": withdrawal is not None,
        "withdrawn_at": withdrawal.created_at if withdrawal else None,
        "complete": full,
    }
    if not full:
        # That a consent exists, its decision and its hash check: nothing else.
        hidden = (
            "customer",
            "purpose",
            "text",
            "recorded_by",
            "evidence",
            "data_categories",
            "method",
            "method_label",
            "agreed_at",
            "recorded_at",
            "withdrawn_at",
        )
        return {**facts, **dict.fromkeys(hidden)}
    return {
        **facts,
        "customer": customer.name if not customer.erased_at else "Erased customer",
        "purpose": record.purpose,
        "text": record.text,
        "recorded_by": recorded_by(session, record),
        "evidence": evidence_summary(record, erased=customer.erased_at is not None),
    }


def evidence_summary(record: ConsentRecord, *, erased: bool) -> dict[str, Any] | None:
    """The uploaded signed form, or the proof that one existed once erasure deleted it."""
    if not record.evidence_sha256:
        return None
    return {
        "sha256": record.evidence_sha256,
        "content_type": record.evidence_content_type,
        "size_bytes": record.evidence_size,
        "uploaded_at": record.evidence_uploaded_at,
        "deleted_on_erasure": erased,
    }


def lead_buyers_description(session: Session, lead: Any) -> str:
    """Who may receive a lead's details: "at most 3 Plumbing businesses serving 78704"."""
    if lead is None:
        return ""
    trade = session.get(Trade, lead.trade_id)
    kind = "business" if lead.max_buyers == 1 else "businesses"
    return (
        f"at most {lead.max_buyers} {trade.name if trade else ''} {kind} serving"
        f" {lead.zip_code}, through the Referral marketplace"
    )


def forget_requests_to(session: Session, customer_id: int) -> None:
    """Erasure: the addresses consent requests were sent to go with the customer."""
    session.execute(
        update(ConsentRequest)
        .where(ConsentRequest.customer_id == customer_id)  # type: ignore[arg-type]
        .values(sent_to="")
        .execution_options(synchronize_session=False)
    )


def withdraw(session: Session, record: ConsentRecord, *, method: str = "link") -> bool:
    """Withdraw a consent; False when it was already withdrawn."""
    if record.decision != "given" or is_withdrawn(session, record):
        return False
    session.add(
        ConsentWithdrawal(
            consent_record_id=record.id, customer_id=record.customer_id, method=method
        )
    )
    session.flush()
    events.consent_recorded(session, record, "withdrawn")
    return True


def everything_shared(session: Session, customer_id: int) -> list[dict[str, Any]]:
    """Every consent the customer gave or refused, newest first, with a link to
    withdraw each: what a customer sees from any of their links."""
    records = session.exec(
        select(ConsentRecord)
        .where(ConsentRecord.customer_id == customer_id)
        .order_by(ConsentRecord.id.desc())
    ).all()
    return [{**receipt(session, r), "withdraw_link": withdrawal_link(r)} for r in records]
