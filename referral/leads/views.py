"""Pages: the marketplace, listing a lead, buying one, my listings and purchases."""

from __future__ import annotations

import datetime as dt
from typing import Any

import marshmallow as ma
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from sqlmodel import select
from werkzeug.wrappers import Response

from referral import live
from referral.auth.current import login_required, operator_required
from referral.auth.links import absolute_url
from referral.businesses.actor import current_actor
from referral.businesses.models import Business, Trade
from referral.customers.models import Customer
from referral.customers.services import customers_query
from referral.db import get_session, utcnow
from referral.errors import DomainError, ValidationFailed
from referral.forms import FormSchema, parse_form, run_action
from referral.leads import contact, disputes, marketplace, offers
from referral.leads import purchases as buying
from referral.leads.models import (
    DISPUTE_REASONS,
    MAX_PRICE_CENTS,
    MIN_PRICE_CENTS,
    OUTCOMES,
    DisputeStatus,
    Lead,
    LeadDispute,
    LeadPurchase,
    LeadStatus,
    PurchaseStatus,
    SellerSuspension,
)
from referral.listing import ListPage, page_of, requested_page
from referral.money import Dollars
from referral.payments import gateway
from referral.referrals.models import URGENCIES

bp = Blueprint("leads", __name__)

CONSENT_METHODS = {
    "email_link": "Ask the customer by email (recommended)",
    "attested_phone": "The customer already agreed by phone",
    "attested_in_person": "The customer already agreed in person",
    "attested_writing": "The customer already agreed in writing",
}


class NewLeadForm(FormSchema):
    customer_id = ma.fields.Integer(required=True, error_messages={"invalid": "Choose a customer."})
    trade_id = ma.fields.Integer(required=True, error_messages={"invalid": "Choose a trade."})
    need = ma.fields.String(
        required=True,
        validate=ma.validate.Length(
            min=3, max=2000, error="Describe the need (3 to 2,000 characters)."
        ),
    )
    urgency = ma.fields.String(
        required=True, validate=ma.validate.OneOf(list(URGENCIES), error="Choose how urgent it is.")
    )
    zip_code = ma.fields.String(
        required=True, validate=ma.validate.Regexp(r"^\d{5}$", error="Five digits.")
    )
    price_cents = Dollars(
        required=True,
        minimum=MIN_PRICE_CENTS,
        maximum=MAX_PRICE_CENTS,
        data_key="price",
    )
    max_buyers = ma.fields.Integer(
        required=True,
        validate=ma.validate.Range(min=1, max=5, error="Exclusive (1) or shared by up to 5."),
    )
    expires_in_days = ma.fields.Integer(
        load_default=7, validate=ma.validate.Range(min=1, max=30, error="Between 1 and 30 days.")
    )
    consent_method = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(list(CONSENT_METHODS), error="Choose how consent is given."),
    )
    attested_on = ma.fields.Date(load_default=None)

    @ma.validates_schema(skip_on_field_errors=False)
    def _checks(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("consent_method", "").startswith("attested_") and not data.get("attested_on"):
            raise ma.ValidationError("When did the customer agree?", "attested_on")


@bp.get("/leads")
@login_required
def market() -> str:
    """Leads I may buy: anonymised previews, newest first, a page at a time."""
    found = marketplace.market_page(get_session(), g.business, page=requested_page())
    return render_template(
        "leads/market.html",
        listing=ListPage(
            items=found.previews,
            page=found.page,
            per_page=found.per_page,
            total=found.total,
            sort="-date",
        ),
        urgencies=URGENCIES,
    )


def _new_form(status: int = 200, **context: Any) -> tuple[str, int]:
    db = get_session()
    customers = db.exec(
        customers_query(business_id=g.business.id).where(Customer.erased_at.is_(None))
    )
    trades = db.exec(select(Trade).order_by(Trade.name))
    context.setdefault("errors", {})
    context.setdefault("form", {"max_buyers": "1", "expires_in_days": "7"})
    return render_template(
        "leads/new.html",
        customers=[(c.id, c.name, c.zip_code) for c in customers],
        trades=[(t.id, t.name) for t in trades if t.id != g.business.trade_id],
        urgencies=list(URGENCIES.items()),
        consent_methods=list(CONSENT_METHODS.items()),
        **context,
    ), status


@bp.route("/leads/new", methods=["GET", "POST"])
@login_required
def new() -> Response | tuple[str, int]:
    """Offer one of my customers' needs to businesses of another trade."""
    if request.method == "GET":
        return _new_form()
    data, errors = parse_form(NewLeadForm(), request.form)
    if errors:
        return _new_form(422, errors=errors, form=request.form)
    try:
        lead = offers.offer_lead(
            session=get_session(),
            actor=current_actor(),
            data=offers.NewLead(**data),
        )
    except DomainError as error:
        if error.status == 404:
            raise
        get_session().rollback()
        status = 422 if isinstance(error, ValidationFailed) else error.status
        return _new_form(
            status, errors={"_form": [error.message], **error.errors}, form=request.form
        )
    flash(
        "Listed. It goes live when the customer agrees."
        if lead.status == LeadStatus.AWAITING_CONSENT
        else "Listed and live.",
        "success",
    )
    return redirect(url_for("leads.show", lead_id=lead.id))


@bp.get("/leads/mine")
@login_required
def mine() -> str:
    listing = page_of(
        get_session(),
        select(Lead).where(Lead.seller_id == g.business.id),
        sorts={
            "date": Lead.id,
            "value": Lead.price_cents,
            "status": Lead.status,
            "expires": Lead.expires_at,
        },
        default="-date",
        tiebreak=Lead.id,
    )
    return render_template("leads/mine.html", listing=listing)


@bp.get("/leads/purchases")
@login_required
def purchases() -> str:
    listing = page_of(
        get_session(),
        select(LeadPurchase, Lead)
        .join(Lead, Lead.id == LeadPurchase.lead_id)
        .where(LeadPurchase.buyer_id == g.business.id),
        sorts={
            "date": LeadPurchase.id,
            "value": LeadPurchase.price_cents,
            "status": LeadPurchase.status,
        },
        default="-date",
        tiebreak=LeadPurchase.id,
    )
    return render_template("leads/purchases.html", listing=listing)


@bp.get("/leads/<int:lead_id>")
@login_required
def show(lead_id: int) -> str:
    db = get_session()
    lead = db.get(Lead, lead_id)
    if lead is not None and lead.seller_id == g.business.id:
        purchases_of = db.exec(
            select(LeadPurchase).where(LeadPurchase.lead_id == lead_id).order_by(LeadPurchase.id)
        ).all()
        return render_template(
            "leads/seller.html", lead=lead, purchases=purchases_of, urgencies=URGENCIES
        )
    lead = marketplace.get_lead_for_buyer(db, g.business, lead_id)
    mine_ = db.exec(
        select(LeadPurchase)
        .where(LeadPurchase.lead_id == lead_id, LeadPurchase.buyer_id == g.business.id)
        .order_by(LeadPurchase.id.desc())  # type: ignore[union-attr]
    ).first()
    return render_template(
        "leads/buyer.html",
        preview=marketplace.preview(db, g.business, lead),
        purchase=mine_,
        urgencies=URGENCIES,
    )


@bp.post("/leads/<int:lead_id>/buy")
@login_required
def buy(lead_id: int) -> Response:
    method = "checkout" if request.form.get("method") == "checkout" else "saved_card"
    db = get_session()
    try:
        purchase = buying.reserve(session=db, actor=current_actor(), lead_id=lead_id, method=method)
        if method == "checkout":
            url = buying.checkout_url(
                session=db,
                purchase=purchase,
                success_url=absolute_url("leads.purchase", purchase_id=purchase.id or 0),
                cancel_url=absolute_url("leads.show", lead_id=lead_id),
            )
            return redirect(url, code=303)
    except DomainError as error:
        if error.status == 404:
            raise
        db.rollback()
        flash(error.message, "error")
        return redirect(url_for("leads.show", lead_id=lead_id))
    except (gateway.PaymentsUnavailable, gateway.PaymentRefused):
        db.rollback()
        flash("Stripe cannot be reached right now. Please try again in a minute.", "error")
        return redirect(url_for("leads.show", lead_id=lead_id))
    flash("Place reserved; your card is being charged.", "success")
    return redirect(url_for("leads.purchase", purchase_id=purchase.id))


@bp.get("/leads/purchases/<int:purchase_id>")
@login_required
def purchase(purchase_id: int) -> str:
    db = get_session()
    bought = buying.get_purchase(db, g.business.id, purchase_id)
    lead = db.get(Lead, bought.lead_id)
    customer = contact.contact_for_buyer(db, bought, user_id=g.user.id)
    existing = (
        get_session().exec(select(LeadDispute).where(LeadDispute.purchase_id == bought.id)).first()
    )
    return render_template(
        "leads/purchase.html",
        purchase=bought,
        lead=lead,
        customer=customer,
        sight=contact.buyer_sight(db, bought),
        urgencies=URGENCIES,
        dispute=existing,
        reasons=DISPUTE_REASONS,
        outcomes=OUTCOMES,
        can_dispute=bought.status == PurchaseStatus.PAID
        and bought.paid_at is not None
        and utcnow() <= bought.paid_at + disputes.DISPUTE_WINDOW,
    )


@bp.get("/leads/<int:lead_id>/status")
@login_required
def status(lead_id: int) -> Response:
    """The seller's lead status, as JSON, for its page while the customer is asked."""
    lead = offers.get_own_lead(get_session(), g.business.id, lead_id)
    return live.status(lead.status, done=lead.status != LeadStatus.AWAITING_CONSENT)


@bp.get("/leads/purchases/<int:purchase_id>/status")
@login_required
def purchase_status(purchase_id: int) -> Response:
    """A purchase's status, as JSON, for its page while Stripe confirms the payment."""
    bought = buying.get_purchase(get_session(), g.business.id, purchase_id)
    return live.status(bought.status, done=bought.status != PurchaseStatus.RESERVED)


@bp.post("/leads/<int:lead_id>/withdraw")
@login_required
def withdraw(lead_id: int) -> Response:
    run_action(
        lambda: offers.withdraw_lead(session=get_session(), actor=current_actor(), lead_id=lead_id),
        done="Lead withdrawn from the marketplace.",
    )
    return redirect(url_for("leads.show", lead_id=lead_id))


def _age(value: dt.timedelta) -> str:
    hours = int(value.total_seconds() // 3600)
    return f"{hours // 24} d" if hours >= 48 else f"{hours} h"


@bp.app_template_filter("age")
def age_filter(value: dt.timedelta) -> str:
    return _age(value)


@bp.post("/leads/purchases/<int:purchase_id>/outcome")
@login_required
def outcome(purchase_id: int) -> Response:
    run_action(
        lambda: buying.report_outcome(
            session=get_session(),
            actor=current_actor(),
            purchase_id=purchase_id,
            outcome=request.form.get("outcome", ""),
        ),
        done="Thank you: your report feeds the seller's quality score.",
    )
    return redirect(url_for("leads.purchase", purchase_id=purchase_id))


@bp.post("/leads/purchases/<int:purchase_id>/dispute")
@login_required
def dispute(purchase_id: int) -> Response:
    opened: list[Any] = []
    run_action(
        lambda: opened.append(
            disputes.open_dispute(
                session=get_session(),
                actor=current_actor(),
                purchase_id=purchase_id,
                reason=request.form.get("reason", ""),
                note=(request.form.get("note") or "").strip(),
            )
        ),
        done="Dispute opened.",
    )
    if opened:
        return redirect(url_for("leads.show_dispute", dispute_id=opened[0].id))
    return redirect(url_for("leads.purchase", purchase_id=purchase_id))


@bp.get("/leads/disputes/<int:dispute_id>")
@login_required
def show_dispute(dispute_id: int) -> str:
    db = get_session()
    found = disputes.get_dispute(db, g.business.id, dispute_id)
    return render_template(
        "leads/dispute.html",
        dispute=found,
        lead=db.get(Lead, found.lead_id),
        reasons=DISPUTE_REASONS,
        is_seller=found.seller_id == g.business.id,
    )


@bp.post("/leads/disputes/<int:dispute_id>/answer")
@login_required
def answer_dispute(dispute_id: int) -> Response:
    accept = request.form.get("decision") == "accept"
    run_action(
        lambda: disputes.seller_decides(
            session=get_session(),
            actor=current_actor(),
            dispute_id=dispute_id,
            accept=accept,
            note=(request.form.get("note") or "").strip(),
        ),
        done="Refund sent to the buyer." if accept else "Sent to the operator to decide.",
    )
    return redirect(url_for("leads.show_dispute", dispute_id=dispute_id))


@bp.get("/operator/leads")
@operator_required
def operator() -> str:
    db = get_session()
    waiting = db.exec(
        select(LeadDispute)
        .where(LeadDispute.status == DisputeStatus.WITH_OPERATOR)
        .order_by(LeadDispute.id)
    ).all()
    suspensions = db.exec(
        select(SellerSuspension, Business.name)
        .join(Business, Business.id == SellerSuspension.business_id)
        .where(SellerSuspension.reviewed_at.is_(None))
    ).all()
    return render_template(
        "operator/leads.html", disputes=waiting, suspensions=suspensions, reasons=DISPUTE_REASONS
    )


@bp.post("/operator/leads/disputes/<int:dispute_id>")
@operator_required
def operator_decide(dispute_id: int) -> Response:
    run_action(
        lambda: disputes.operator_decides(
            session=get_session(),
            dispute_id=dispute_id,
            uphold=request.form.get("decision") == "uphold",
            note=(request.form.get("note") or "").strip(),
        ),
        done="Decided.",
    )
    return redirect(url_for("leads.operator"))


@bp.post("/operator/leads/suspensions/<int:suspension_id>/review")
@operator_required
def review_suspension(suspension_id: int) -> Response:
    suspension = get_session().get(SellerSuspension, suspension_id)
    if suspension is None:
        abort(404)
    suspension.reviewed_at, suspension.reviewed_by_user_id = utcnow(), g.user.id
    suspension.review_note = (request.form.get("note") or "").strip()[:2000]
    flash("Reviewed: the seller can list leads again.", "success")
    return redirect(url_for("leads.operator"))
