"""Public pages for customers: answer a consent request, withdraw consent,
read the receipt. No login: the signed, single-use link is the key."""

from __future__ import annotations

import datetime as dt
import json

from flask import Blueprint, g, render_template, request
from werkzeug.wrappers import Response

from referral.businesses.models import Business
from referral.consent import services as consent
from referral.consent import subjects
from referral.consent.models import ConsentRecord, ConsentRequest
from referral.customers.models import Customer
from referral.db import get_session
from referral.errors import DomainError
from referral.security import limiter

bp = Blueprint("consent", __name__)


def _problem(message: str, status: int = 400) -> tuple[str, int]:
    return render_template("consent/problem.html", message=message), status


@bp.app_template_filter("agreed")
def agreed_filter(value: str) -> str:
    """A receipt's `agreed_at`: a day (recorded by staff) or a moment (the link)."""
    if len(value) == 10:
        day = dt.date.fromisoformat(value)
        return f"{day:%B} {day.day}, {day.year}"
    moment = dt.datetime.fromisoformat(value).astimezone(dt.UTC)
    return f"{moment:%B} {moment.day}, {moment.year} {moment:%H:%M} UTC"


def _answered(consent_request: ConsentRequest) -> str:
    """An answered link opened again: the decision, and while the consent
    stands, the button to withdraw it."""
    db = get_session()
    record = consent.latest_record(db, consent_request.referral_id, lead_id=consent_request.lead_id)
    if record is None:  # the request was closed without an answer
        return _problem("This request is closed. Nothing was shared.")[0]
    return _withdraw_page(record, done=False)


@bp.get("/consent/<token>")
@limiter.limit("60 per minute")
def ask(token: str) -> str | tuple[str, int]:
    """The consent question, in plain language, with Yes and No of equal weight."""
    db = get_session()
    try:
        consent_request = consent.open_consent_request(db, token)
    except consent.AlreadyAnswered as answered:
        return _answered(answered.request)
    except DomainError as error:
        return _problem(error.message)
    question = subjects.subject_of(consent_request).question(db, consent_request)
    return render_template(
        "consent/ask.html",
        text=question.text,
        referrer=question.asker,
        receiver_name=subjects.receiver_name(db, consent_request),
        token=token,
        my_consents_link=consent.my_consents_link(consent_request.customer_id),
    )


@bp.post("/consent/<token>")
@limiter.limit("30 per minute")
def answer(token: str) -> str | tuple[str, int]:
    """Record the customer's Yes or No."""
    answer = request.form.get("answer")
    if answer not in ("yes", "no"):
        return _problem("Choose Yes or No thanks.", 422)
    db = get_session()
    try:
        consent_request = consent.open_consent_request(db, token)
    except consent.AlreadyAnswered as answered:
        return _answered(answered.request)
    except DomainError as error:
        return _problem(error.message)
    yes = answer == "yes"
    given = subjects.Answer(
        token=token,
        yes=yes,
        ip=request.remote_addr or "",
        user_agent=request.headers.get("User-Agent", ""),
    )
    try:
        subjects.subject_of(consent_request).answer(db, consent_request, given)
    except consent.AlreadyAnswered as answered:
        # Another answer to the same link claimed it first: that one stands.
        db.rollback()
        return _answered(answered.request)
    except DomainError as error:
        db.rollback()
        return _problem(error.message)
    record = consent.latest_record(db, consent_request.referral_id, lead_id=consent_request.lead_id)
    assert record is not None
    return _thanks(record, yes, subjects.receiver_name(db, consent_request))


def _thanks(record: ConsentRecord, yes: bool, receiver_name: str) -> str:
    return render_template(
        "consent/answered.html",
        yes=yes,
        receiver_name=receiver_name,
        emailed=yes and bool(get_session().get(Customer, record.customer_id).email),  # type: ignore[union-attr]
        withdraw_link=consent.withdrawal_link(record) if yes else "",
        my_consents_link=consent.my_consents_link(record.customer_id),
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
    referrer = db.get(Business, record.referring_business_id)
    g.time_zone = referrer.zone_name if referrer else None  # times as the customer lives them
    if request.method == "POST":
        subjects.subject_of(record).withdraw(db, record, token)
    return _withdraw_page(record, done=request.method == "POST")


def _withdraw_page(record: ConsentRecord, *, done: bool) -> str:
    db = get_session()
    return render_template(
        "consent/withdraw.html",
        receipt=consent.receipt(db, record),
        done=done,
        withdraw_link=consent.withdrawal_link(record),
        receipt_link=consent.receipt_link(record),
        my_consents_link=consent.my_consents_link(record.customer_id),
    )


@bp.get("/consent/mine/<token>")
@limiter.limit("30 per minute")
def mine(token: str) -> str | tuple[str, int]:
    """My consents: every consent given with this email address or phone number
    to the business that holds the customer, to withdraw or download."""
    db = get_session()
    try:
        customer = consent.customer_from_my_consents_token(db, token)
    except DomainError as error:
        return _problem(error.message + " Open the newest email we sent you for a fresh link.", 404)
    referrer = db.get(Business, customer.business_id)
    return render_template(
        "consent/mine.html",
        referrer=referrer,
        consents=consent.my_consents(db, customer),
    )


@bp.get("/consent/receipt/<token>")
@limiter.limit("30 per minute")
def receipt(token: str) -> str | tuple[str, int] | Response:
    """The customer's receipt: the text they agreed to, its SHA-256 and how
    anyone can check it; `?format=json` downloads it."""
    db = get_session()
    try:
        record = consent.record_from_withdrawal_token(db, token)
    except DomainError as error:
        return _problem(error.message, 404)
    facts = consent.receipt(db, record)
    if request.args.get("format") == "json":
        return Response(
            json.dumps(facts, default=str, indent=2),
            mimetype="application/json",
            headers={
                "Content-Disposition": f'attachment; filename="consent-receipt-{record.id}.json"'
            },
        )
    return render_template(
        "consent/receipt.html",
        receipt=facts,
        withdraw_link=consent.withdrawal_link(record),
        my_consents_link=consent.my_consents_link(record.customer_id),
    )
