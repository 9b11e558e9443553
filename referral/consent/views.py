"""Public pages for customers: answer a consent request, withdraw consent,
read the receipt. No login: the signed, single-use link is the key."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from werkzeug.wrappers import Response

from referral.businesses.models import Business
from referral.consent import services as consent
from referral.consent.models import ConsentRequest
from referral.customers.models import Customer
from referral.db import get_session, utcnow
from referral.errors import DomainError
from referral.leads import services as leads
from referral.leads.models import Lead
from referral.referrals import services as referrals
from referral.referrals.models import Referral
from referral.security import limiter

bp = Blueprint("consent", __name__)


def _problem(message: str, status: int = 400) -> tuple[str, int]:
    return render_template("consent/problem.html", message=message), status


@bp.get("/consent/<token>")
@limiter.limit("60 per minute")
def ask(token: str) -> str | tuple[str, int]:
    """The consent question, in plain language, with Yes and No of equal weight."""
    db = get_session()
    try:
        consent_request = consent.open_consent_request(db, token)
    except DomainError as error:
        return _problem(error.message)
    if consent_request.lead_id is not None:
        return _ask_about_lead(consent_request, token)
    referral = db.get(Referral, consent_request.referral_id)
    customer = db.get(Customer, consent_request.customer_id)
    assert referral is not None and customer is not None
    referrer = db.get(Business, referral.sender_id)
    receiver = db.get(Business, referral.receiver_id)
    assert referrer is not None and receiver is not None
    shown = consent.consent_text(
        db, referrer=referrer, receiver=receiver, customer=customer, need=referral.need
    )
    return render_template(
        "consent/ask.html",
        text=shown.text,
        referrer=referrer,
        receiver_name=receiver.name,
        token=token,
    )


@bp.post("/consent/<token>")
@limiter.limit("30 per minute")
def answer(token: str) -> str | tuple[str, int]:
    """Record the customer's Yes or No."""
    answer = request.form.get("answer")
    if answer not in ("yes", "no"):
        return _problem("Choose Yes or No thanks.", 422)
    try:
        consent_request = consent.open_consent_request(get_session(), token)
    except DomainError as error:
        return _problem(error.message)
    if consent_request.lead_id is not None:
        return _answer_about_lead(consent_request, answer == "yes")
    try:
        referral = referrals.answer_consent(
            session=get_session(),
            token=token,
            yes=answer == "yes",
            ip=request.remote_addr or "",
            user_agent=request.headers.get("User-Agent", ""),
        )
    except DomainError as error:
        get_session().rollback()
        return _problem(error.message)
    receiver = get_session().get(Business, referral.receiver_id)
    record = consent.latest_record(get_session(), referral.id or 0)
    assert record is not None
    return render_template(
        "consent/answered.html",
        yes=answer == "yes",
        receiver_name=receiver.name if receiver else "",
        withdraw_link=consent.withdrawal_link(record) if answer == "yes" else "",
    )


@bp.route("/consent/withdraw/<token>", methods=["GET", "POST"])
@limiter.limit("30 per minute")
def withdraw(token: str) -> str | tuple[str, int] | Response:
    """Withdraw a consent with one click; show what was shared with whom."""
    db = get_session()
    try:
        record = consent.record_from_withdrawal_token(db, token)
    except DomainError as error:
        return _problem(error.message, 404)
    if request.method == "POST":
        if record.lead_id is not None:
            if consent.withdraw(db, record):
                lead = db.get(Lead, record.lead_id)
                assert lead is not None
                leads.consent_withdrawn(db, lead)
        else:
            referrals.withdraw_consent_by_link(session=db, token=token)
    return render_template(
        "consent/withdraw.html",
        receipt=consent.receipt(db, record),
        done=request.method == "POST",
        shared=consent.everything_shared(db, record.customer_id),
    )


def _ask_about_lead(consent_request: ConsentRequest, token: str) -> str:
    db = get_session()
    lead = db.get(Lead, consent_request.lead_id)
    customer = db.get(Customer, consent_request.customer_id)
    assert lead is not None and customer is not None
    seller = db.get(Business, lead.seller_id)
    assert seller is not None
    shown = consent.lead_consent_text(db, seller=seller, lead=lead, customer=customer)
    return render_template(
        "consent/ask.html",
        text=shown.text,
        referrer=seller,
        receiver_name=consent.lead_buyers_description(db, lead.id),
        token=token,
    )


def _answer_about_lead(consent_request: ConsentRequest, yes: bool) -> str | tuple[str, int]:
    db = get_session()
    lead = db.get(Lead, consent_request.lead_id)
    assert lead is not None
    if lead.status != "awaiting_consent":
        return _problem("This request is closed.")
    consent_request.used_at = utcnow()
    leads.answer_consent(
        session=db,
        lead=lead,
        yes=yes,
        ip=request.remote_addr or "",
        user_agent=request.headers.get("User-Agent", ""),
    )
    record = consent.latest_record(db, lead_id=lead.id)
    assert record is not None
    return render_template(
        "consent/answered.html",
        yes=yes,
        receiver_name=consent.lead_buyers_description(db, lead.id),
        withdraw_link=consent.withdrawal_link(record) if yes else "",
    )
