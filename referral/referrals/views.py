"""Pages: send a referral, the inbox of referrals received, the outbox of
referrals sent, and one referral with what each side may see of it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import marshmallow as ma
from flask import Blueprint, g, redirect, render_template, request, url_for
from sqlmodel import select
from werkzeug.wrappers import Response

from referral import live
from referral.auth.current import login_required
from referral.businesses.actor import current_actor
from referral.businesses.models import Business
from referral.consent import services as consent
from referral.consent.evidence import store_evidence
from referral.consent.models import ATTESTED_METHODS, SENDER_METHODS
from referral.customers.models import Customer
from referral.customers.services import customers_query
from referral.db import get_session
from referral.errors import DomainError, ValidationFailed
from referral.forms import FormSchema, parse_form, run_action
from referral.listing import ListPage, requested_page, requested_sort
from referral.money import MAX_JOB_CENTS, AmountError, cents_from_dollars, parse_amount
from referral.partnerships.models import PartnershipStatus
from referral.partnerships.services import list_partnerships
from referral.referrals import outcomes, services
from referral.referrals.listing import (
    EXPORT_HEADER,
    LIMIT,
    SORTS,
    export_referrals,
    inbox_state,
    referral_rows,
)
from referral.referrals.models import URGENCIES, ReferralEvent, ReferralStatus
from referral.referrals.services import NewReferral
from referral.security import safe_next
from referral.spreadsheet import csv_download

bp = Blueprint("referrals", __name__)


class SendReferralForm(FormSchema):
    partner_id = ma.fields.Integer(required=True, error_messages={"invalid": "Choose a partner."})
    customer_id = ma.fields.Integer(required=True, error_messages={"invalid": "Choose a customer."})
    need = ma.fields.String(
        required=True,
        validate=ma.validate.Length(
            min=3, max=2000, error="Describe the need (3 to 2,000 characters)."
        ),
    )
    urgency = ma.fields.String(
        required=True, validate=ma.validate.OneOf(list(URGENCIES), error="Choose how urgent it is.")
    )
    preferred_contact_time = ma.fields.String(load_default="", validate=ma.validate.Length(max=120))
    consent_method = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(list(SENDER_METHODS), error="Choose how consent is given."),
    )
    attested_on = ma.fields.Date(load_default=None)

    @ma.validates_schema(skip_on_field_errors=False)
    def _attestation_has_a_date(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("consent_method") in ATTESTED_METHODS and not data.get("attested_on"):
            raise ma.ValidationError("When did the customer agree?", "attested_on")


def _send_form(status: int = 200, **context: Any) -> tuple[str, int]:
    db = get_session()
    active = list_partnerships(
        session=db, business_id=g.business.id, statuses=(PartnershipStatus.ACTIVE,)
    )
    partner_ids = [p.other_id(g.business.id) for p in active]
    partners = db.exec(select(Business).where(Business.id.in_(partner_ids)).order_by(Business.name))
    customers = db.exec(
        customers_query(business_id=g.business.id).where(Customer.erased_at.is_(None))
    )
    context.setdefault("errors", {})
    context.setdefault("form", {"customer_id": request.args.get("customer_id", "")})
    return render_template(
        "referrals/send.html",
        partners=[(b.id, b.name) for b in partners],
        customers=[(c.id, f"{c.name} ({c.email or c.phone})") for c in customers],
        urgencies=list(URGENCIES.items()),
        consent_methods=[(m.value, m.choice) for m in SENDER_METHODS],
        **context,
    ), status


@bp.route("/referrals/new", methods=["GET", "POST"])
@login_required
def send() -> Response | tuple[str, int]:
    """Refer one of my customers to an active partner."""
    if request.method == "GET":
        return _send_form()
    data, errors = parse_form(SendReferralForm(), request.form)
    if errors:
        return _send_form(422, errors=errors, form=request.form)
    upload = request.files.get("evidence")
    try:
        if upload is not None and upload.filename:
            if data["consent_method"] not in ATTESTED_METHODS:
                raise ValidationFailed(
                    "Some fields are not valid.",
                    errors={"evidence": ["A signed form is only for consent already given."]},
                )
            try:
                stored = store_evidence(upload.stream)
            finally:
                upload.close()  # a large upload is spooled to a temporary file
            data.update(
                evidence_sha256=stored.sha256,
                evidence_content_type=stored.content_type,
                evidence_size=stored.size,
            )
        referral = services.send_referral(
            session=get_session(), actor=current_actor(), data=NewReferral(**data)
        )
    except ValidationFailed as error:
        get_session().rollback()
        return _send_form(422, errors=error.errors, form=request.form)
    except DomainError as error:
        if error.status == 404:
            raise
        get_session().rollback()
        earlier = error.errors.get("referral_id", [None])[0]
        return _send_form(
            error.status,
            errors={"_form": [error.message]},
            form=request.form,
            earlier_referral=earlier,
        )
    return redirect(url_for("referrals.show", referral_id=referral.id))


def _listing(direction: str) -> str:
    db = get_session()
    status = request.args.get("status") or None
    partner = request.args.get("partner", type=int)
    since = request.args.get("since") or None
    sort = requested_sort(dict.fromkeys(SORTS), "-date")
    number = requested_page()
    found = referral_rows(
        session=db,
        business_id=g.business.id,
        direction=direction,
        status=status,
        partner_id=partner,
        since=dt.date.fromisoformat(since) if since and _is_date(since) else None,
        sort=sort,
        offset=(number - 1) * LIMIT,
        limit=LIMIT,
    )
    listing = ListPage(items=found.rows, page=number, per_page=LIMIT, total=found.total, sort=sort)
    return render_template(
        f"referrals/{direction}.html",
        live_state=inbox_state(session=db, business_id=g.business.id)
        if direction == "inbox"
        else "",
        listing=listing,
        status=status,
        partner=partner,
        since=since or "",
        statuses=services.ALL_STATUSES,
    )


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


@bp.get("/referrals/inbox")
@login_required
def inbox() -> str:
    """Referrals partners sent me."""
    return _listing("inbox")


@bp.get("/referrals/<any(inbox, outbox):direction>.csv")
@login_required
def export(direction: str) -> Response:
    """Every referral received or sent, as CSV (streamed)."""
    return csv_download(
        f"referrals-{'received' if direction == 'inbox' else 'sent'}.csv",
        EXPORT_HEADER,
        lambda session: export_referrals(
            session=session, business_id=g.business.id, direction=direction
        ),
    )


@bp.get("/referrals/inbox/status")
@login_required
def inbox_status() -> Response:
    """Whether the inbox changed (a new referral, one answered), as JSON."""
    return live.status(inbox_state(session=get_session(), business_id=g.business.id), done=False)


@bp.get("/referrals/<int:referral_id>/status")
@login_required
def status(referral_id: int) -> Response:
    """A referral's status, as JSON, for its page while the customer is asked."""
    referral = services.get_referral(
        session=get_session(), business_id=g.business.id, referral_id=referral_id
    )
    return live.status(referral.status, done=referral.status != ReferralStatus.AWAITING_CONSENT)


@bp.get("/referrals/outbox")
@login_required
def outbox() -> str:
    """Referrals I sent, with their status and consent state."""
    return _listing("outbox")


@bp.get("/referrals/<int:referral_id>")
@login_required
def show(referral_id: int) -> str:
    """One referral. The receiver sees the customer's contact details only once
    it has accepted and while the consent stands; each such view is audited."""
    return _show_page(referral_id)[0]


def _show_page(referral_id: int, status: int = 200, **won_form: Any) -> tuple[str, int]:
    """The referral's page; `won_form`: the outcome form's errors and values."""
    db = get_session()
    referral = services.get_referral(session=db, business_id=g.business.id, referral_id=referral_id)
    sight, customer = services.customer_in_sight(db, referral, g.business.id)
    if sight.identity and referral.receiver_id == g.business.id:
        services.record_contact_view(session=db, referral=referral, user_id=g.user.id)
    record = consent.latest_record(db, referral_id)
    claims = services.attribution(db, referral)
    events = db.exec(
        select(ReferralEvent)
        .where(ReferralEvent.referral_id == referral_id)
        .order_by(ReferralEvent.id)
    ).all()
    return render_template(
        "referrals/show.html",
        referral=referral,
        sender=db.get(Business, referral.sender_id),
        receiver=db.get(Business, referral.receiver_id),
        customer=customer,
        record=record,
        receipt=consent.receipt(db, record, full=sight.full_receipt) if record else None,
        sight=sight,
        events=events,
        is_receiver=referral.receiver_id == g.business.id,
        urgencies=URGENCIES,
        claims=claims,
        business_names=_names(db, {c.sender_id for c in claims}),
        won_errors=won_form.get("errors", {}),
        won_values=won_form.get("values", {}),
        **outcomes.page_extras(db, referral),
    ), status


@bp.get("/referrals/<int:referral_id>/consent")
@login_required
def receipt(referral_id: int) -> str:
    """The consent receipt: whole for the sender, and for the receiver while it
    may see the customer; otherwise that the consent exists and its hash check."""
    db = get_session()
    referral = services.get_referral(session=db, business_id=g.business.id, referral_id=referral_id)
    sight = services.customer_sight(db, referral, g.business.id)
    record = consent.latest_record(db, referral_id)
    if record and sight.full_receipt and referral.receiver_id == g.business.id:
        services.record_contact_view(session=db, referral=referral, user_id=g.user.id)
    return render_template(
        "referrals/receipt.html",
        referral=referral,
        sight=sight,
        receipt=consent.receipt(db, record, full=sight.full_receipt) if record else None,
    )


def _names(db: Any, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = db.exec(select(Business.id, Business.name).where(Business.id.in_(ids))).all()
    return dict(rows)


def _act(referral_id: int, action: Any, done: str, **kwargs: Any) -> Response:
    run_action(
        lambda: action(
            session=get_session(), actor=current_actor(), referral_id=referral_id, **kwargs
        ),
        done=done,
    )
    here = url_for("referrals.show", referral_id=referral_id)
    return redirect(safe_next(request.form.get("next"), here))


@bp.post("/referrals/<int:referral_id>/accept")
@login_required
def accept(referral_id: int) -> Response:
    return _act(referral_id, services.accept_referral, "Referral accepted.")


@bp.post("/referrals/<int:referral_id>/decline")
@login_required
def decline(referral_id: int) -> Response:
    reason = (request.form.get("reason") or "").strip()[:2000]
    return _act(referral_id, services.decline_referral, "Referral declined.", reason=reason)


@bp.post("/referrals/<int:referral_id>/won")
@login_required
def won(referral_id: int) -> Response | tuple[str, int]:
    values = {name: request.form.get(name, "").strip() for name in ("job_value", "job_date")}
    errors: dict[str, list[str]] = {}
    cents = None
    if not values["job_value"]:
        errors["job_value"] = ["Enter what the customer paid for the job, in dollars."]
    else:
        try:
            cents = cents_from_dollars(values["job_value"], minimum=0, maximum=MAX_JOB_CENTS)
        except AmountError as error:
            not_an_amount = parse_amount(values["job_value"]) is None
            errors["job_value"] = [
                f"“{values['job_value']}” is not an amount: use digits with at most two "
                "decimals, e.g. 1250 or 1,250.50."
                if not_an_amount
                else str(error)
            ]
    job_date = None
    if not values["job_date"]:
        errors["job_date"] = ["Enter the date of the job."]
    elif not _is_date(values["job_date"]):
        errors["job_date"] = ["Enter the date as year-month-day, e.g. 2026-11-20."]
    else:
        job_date = dt.date.fromisoformat(values["job_date"])
    if errors or cents is None or job_date is None:
        return _show_page(referral_id, 422, errors=errors, values=values)
    return _act(
        referral_id, services.report_won, "Marked as won.", job_value_cents=cents, job_date=job_date
    )


@bp.post("/referrals/<int:referral_id>/lost")
@login_required
def lost(referral_id: int) -> Response:
    reason = (request.form.get("reason") or "").strip()[:2000]
    return _act(referral_id, services.report_lost, "Marked as lost.", reason=reason)


@bp.post("/referrals/<int:referral_id>/withdraw")
@login_required
def withdraw(referral_id: int) -> Response:
    return _act(referral_id, services.withdraw_referral, "Referral withdrawn.")
