"""Consent: ask by an emailed single-use link, or record a staff attestation;
withdraw with one click. No personal data reaches the receiving business
without a record made here."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from flask import current_app, render_template
from itsdangerous import BadSignature, URLSafeSerializer
from sqlmodel import Session, select

from referral.auth.tokens import hash_token, new_token
from referral.businesses.models import Business, Trade
from referral.consent.models import ConsentRecord, ConsentRequest, ConsentWithdrawal
from referral.customers.models import Customer
from referral.db import utcnow
from referral.errors import DomainError, NotFound
from referral.mail.services import queue_email

TEXT_VERSION = "v1"
LEAD_TEXT_VERSION = "lead-v1"
REQUEST_VALID_FOR = dt.timedelta(days=7)
ATTESTED_METHODS = {
    "attested_phone": "By phone",
    "attested_in_person": "In person",
    "attested_writing": "In writing",
}


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
    )
    session.flush()
    return request


def open_consent_request(session: Session, token: str) -> ConsentRequest:
    """The request a link stands for. Fails (DomainError) when used, expired or unknown."""
    request = session.exec(
        select(ConsentRequest).where(ConsentRequest.token_hash == hash_token(token))
    ).first()
    if request is None:
        raise DomainError("This link is not valid. It may have been mistyped.")
    if request.used_at is not None:
        raise DomainError("You have already answered this request. Thank you.")
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
) -> ConsentRecord:
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
    )
    session.add(record)
    session.flush()
    return record


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
    return (
        session.exec(
            select(ConsentWithdrawal.id).where(ConsentWithdrawal.consent_record_id == record.id)
        ).first()
        is not None
    )


def consent_in_force(
    session: Session, referral_id: int | None = None, *, lead_id: int | None = None
) -> bool:
    """True when the customer said yes for this referral (or lead) and has not withdrawn."""
    record = latest_record(session, referral_id, lead_id=lead_id)
    return record is not None and record.decision == "given" and not is_withdrawn(session, record)


def receipt(session: Session, record: ConsentRecord) -> dict[str, Any]:
    """What the customer agreed to, and a check that the stored text still has
    the SHA-256 taken when it was shown."""
    referrer = session.get(Business, record.referring_business_id)
    customer = session.get(Customer, record.customer_id)
    assert referrer and customer
    if record.receiving_business_id is not None:
        receiver = session.get(Business, record.receiving_business_id)
        receiving = receiver.name if receiver else ""
    else:
        receiving = lead_buyers_description(session, record.lead_id)
    return {
        "referral_id": record.referral_id,
        "lead_id": record.lead_id,
        "customer": customer.name if not customer.erased_at else "Erased customer",
        "referring_business": referrer.name,
        "receiving_business": receiving,
        "data_categories": record.data_categories,
        "purpose": record.purpose,
        "text_version": record.text_version,
        "text_sha256": record.text_sha256,
        "text": record.text,
        "hash_matches": hashlib.sha256(record.text.encode("utf-8")).hexdigest()
        == record.text_sha256,
        "method": record.method,
        "decision": record.decision,
        "recorded_at": record.created_at,
        "withdrawn": is_withdrawn(session, record),
    }


def lead_buyers_description(session: Session, lead_id: int | None) -> str:
    """Who may receive a lead's details: "at most 3 Plumbing businesses serving 78704"."""
    from referral.leads.models import Lead

    lead = session.get(Lead, lead_id)
    if lead is None:
        return ""
    trade = session.get(Trade, lead.trade_id)
    kind = "business" if lead.max_buyers == 1 else "businesses"
    return (
        f"at most {lead.max_buyers} {trade.name if trade else ''} {kind} serving"
        f" {lead.zip_code}, through the Referral marketplace"
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
