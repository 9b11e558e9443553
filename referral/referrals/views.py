"""Pages: send a referral, the inbox of referrals received, the outbox of
referrals sent, and one referral with what each side may see of it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import marshmallow as ma
from flask import Blueprint, g, redirect, render_template, request, url_for
from sqlmodel import select
from werkzeug.wrappers import Response

from referral.auth.current import login_required
from referral.businesses.models import Business
from referral.commissions.services import won_commission
from referral.consent import services as consent
from referral.consent.evidence import store_evidence
from referral.customers.models import Customer
from referral.customers.services import customers_query
from referral.db import get_session
from referral.errors import DomainError, ValidationFailed
from referral.forms import FormSchema, parse_form, run_action
from referral.money import parse_amount
from referral.partnerships.services import Actor, list_partnerships
from referral.referrals import services
from referral.referrals.listing import referral_rows
from referral.referrals.models import URGENCIES, ReferralEvent
from referral.referrals.services import NewReferral

bp = Blueprint("referrals", __name__)

CONSENT_METHODS = {
    "email_link": "Ask the customer by email (recommended)",
    "attested_phone": "The customer already agreed by phone",
    "attested_in_person": "The customer already agreed in person",
    "attested_writing": "The customer already agreed in writing",
}


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
        validate=ma.validate.OneOf(list(CONSENT_METHODS), error="Choose how consent is given."),
    )
    attested_on = ma.fields.Date(load_default=None)

    @ma.validates_schema(skip_on_field_errors=False)
    def _attestation_has_a_date(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("consent_method", "").startswith("attested_") and not data.get("attested_on"):
            raise ma.ValidationError("When did the customer agree?", "attested_on")


def _actor() -> Actor:
    return Actor.of_user(g.user, g.business)


def _send_form(status: int = 200, **context: Any) -> tuple[str, int]:
    db = get_session()
    active = list_partnerships(session=db, business_id=g.business.id, statuses=("active",))
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
        consent_methods=list(CONSENT_METHODS.items()),
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
            if not data["consent_method"].startswith("attested_"):
                raise ValidationFailed(
                    "Some fields are not valid.",
                    errors={"evidence": ["A signed form is only for consent already given."]},
                )
            try:
                stored = store_evidence(upload.stream)
            finally:
                upload.close()  # a large upload is spooled to a temporary file
            data.update(evidence_sha256=stored.sha256, evidence_content_type=stored.content_type)
        referral = services.send_referral(
            session=get_session(), actor=_actor(), data=NewReferral(**data)
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
            409, errors={"_form": [error.message]}, form=request.form, earlier_referral=earlier
        )
    return redirect(url_for("referrals.show", referral_id=referral.id))


def _listing(direction: str) -> str:
    db = get_session()
    status = request.args.get("status") or None
    partner = request.args.get("partner", type=int)
    since = request.args.get("since") or None
    rows = referral_rows(
        session=db,
        business_id=g.business.id,
        direction=direction,
        status=status,
        partner_id=partner,
        since=dt.date.fromisoformat(since) if since and _is_date(since) else None,
    )
    return render_template(
        f"referrals/{direction}.html",
        rows=rows,
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
    db = get_session()
    referral = services.get_referral(session=db, business_id=g.business.id, referral_id=referral_id)
    visible = services.contact_visible_to(db, referral, g.business.id)
    customer = db.get(Customer, referral.customer_id) if visible else None
    if visible and referral.receiver_id == g.business.id:
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
        receipt=consent.receipt(db, record) if record else None,
        events=events,
        is_receiver=referral.receiver_id == g.business.id,
        urgencies=URGENCIES,
        claims=claims,
        commission=won_commission(db, referral.id),
        business_names=_names(db, {c.sender_id for c in claims}),
    )


def _names(db: Any, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = db.exec(select(Business.id, Business.name).where(Business.id.in_(ids))).all()
    return dict(rows)


def _act(referral_id: int, action: Any, done: str, **kwargs: Any) -> Response:
    run_action(
        lambda: action(session=get_session(), actor=_actor(), referral_id=referral_id, **kwargs),
        done=done,
    )
    return redirect(request.form.get("next") or url_for("referrals.show", referral_id=referral_id))


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
def won(referral_id: int) -> Response:
    cents = parse_amount(request.form.get("job_value", ""))
    try:
        job_date = dt.date.fromisoformat(request.form.get("job_date", ""))
    except ValueError:
        job_date = None
    if cents is None or job_date is None:
        return _act(referral_id, _refuse, "", message="Enter the job value and date of the job.")
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


def _refuse(*, session: Any, actor: Actor, referral_id: int, message: str) -> None:
    services.get_referral(session=session, business_id=actor.business_id, referral_id=referral_id)
    raise DomainError(message)
