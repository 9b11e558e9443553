"""API: the lead marketplace (/api/v1/leads)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import abort, g
from flask.views import MethodView
from sqlmodel import select

from referral.auth.current import api_key_required
from referral.auth.links import absolute_url
from referral.businesses.actor import current_actor
from referral.consent.models import SENDER_METHODS, ConsentMethod
from referral.db import get_session
from referral.errors import DomainError
from referral.ids import IdField
from referral.leads import contact, disputes, marketplace, offers, purchases
from referral.leads.models import (
    DISPUTE_REASONS,
    MAX_PRICE_CENTS,
    MIN_PRICE_CENTS,
    OUTCOMES,
    Lead,
    LeadPurchase,
)
from referral.money import Cents
from referral.payments import gateway
from referral.referrals.api import ContactSchema
from referral.referrals.models import URGENCIES
from referral.restapi import Blueprint, PageArgs, field_names, page_schema

blp = Blueprint(
    "api_leads",
    __name__,
    url_prefix="/leads",
    description="Sell consented leads to nearby businesses of another trade, and buy them.",
)


class NewLeadSchema(ma.Schema):
    customer_id = IdField(required=True)
    trade_id = IdField(required=True, metadata={"description": "The trade needed."})
    need = ma.fields.String(required=True, validate=ma.validate.Length(min=3, max=2000))
    urgency = ma.fields.String(required=True, validate=ma.validate.OneOf(list(URGENCIES)))
    zip_code = ma.fields.String(required=True, validate=ma.validate.Regexp(r"^\d{5}$"))
    price_cents = Cents(required=True, minimum=MIN_PRICE_CENTS, maximum=MAX_PRICE_CENTS)
    max_buyers = ma.fields.Integer(
        required=True,
        strict=True,
        validate=ma.validate.Range(min=1, max=5),
        metadata={"description": "1 for an exclusive lead; 2 to 5 for a shared one."},
    )
    expires_in_days = ma.fields.Integer(
        strict=True, load_default=7, validate=ma.validate.Range(min=1, max=30)
    )
    consent_method = ma.fields.String(
        load_default=ConsentMethod.EMAIL_LINK.value,
        validate=ma.validate.OneOf([method.value for method in SENDER_METHODS]),
    )
    attested_on = ma.fields.Date(load_default=None)


class LeadSchema(ma.Schema):
    id = ma.fields.Integer()
    trade_id = ma.fields.Integer()
    need = ma.fields.String()
    urgency = ma.fields.String()
    zip_code = ma.fields.String()
    price_cents = ma.fields.Integer()
    currency = ma.fields.String()
    exclusive = ma.fields.Boolean()
    max_buyers = ma.fields.Integer()
    places_held = ma.fields.Integer()
    status = ma.fields.String()
    expires_at = ma.fields.DateTime()
    live_at = ma.fields.DateTime(allow_none=True)


class PreviewSchema(ma.Schema):
    id = ma.fields.Integer()
    trade = ma.fields.String()
    need = ma.fields.String()
    urgency = ma.fields.String()
    zip_code = ma.fields.String()
    price_cents = ma.fields.Integer()
    exclusive = ma.fields.Boolean()
    places_left = ma.fields.Integer()
    age_hours = ma.fields.Integer()
    seller_sales = ma.fields.Integer()
    seller_score = ma.fields.Integer(
        allow_none=True, metadata={"description": "0-100, once rated."}
    )


PreviewListSchema = page_schema(PreviewSchema)


class LeadListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(LeadSchema))


class BuySchema(ma.Schema):
    method = ma.fields.String(
        load_default="saved_card", validate=ma.validate.OneOf(["saved_card", "checkout"])
    )


class PurchaseSchema(ma.Schema):
    id = ma.fields.Integer()
    lead_id = ma.fields.Integer()
    status = ma.fields.String()
    method = ma.fields.String()
    price_cents = ma.fields.Integer()
    reserved_until = ma.fields.DateTime()
    paid_at = ma.fields.DateTime(allow_none=True)
    outcome = ma.fields.String(allow_none=True)
    checkout_url = ma.fields.String(allow_none=True)
    customer = ma.fields.Nested(
        ContactSchema,
        allow_none=True,
        metadata={"description": "Once Stripe confirmed the payment, while the consent stands."},
    )


class PurchaseListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(PurchaseSchema))


class DisputeInSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.OneOf(list(DISPUTE_REASONS)))
    note = ma.fields.String(load_default="", validate=ma.validate.Length(max=2000))


class DisputeSchema(ma.Schema):
    id = ma.fields.Integer()
    purchase_id = ma.fields.Integer()
    reason = ma.fields.String()
    status = ma.fields.String()
    decided_by = ma.fields.String()


class OutcomeSchema(ma.Schema):
    outcome = ma.fields.String(required=True, validate=ma.validate.OneOf(OUTCOMES))


def _documented(view: Any) -> Any:
    for code, description in ((401, "No valid API key."), (404, "Not found."), (409, "Refused.")):
        view = blp.alt_response(code, description=description, schema="Error")(view)
    return view


def _preview(p: marketplace.Preview) -> dict[str, Any]:
    lead = p.lead
    return {
        "id": lead.id,
        "trade": p.trade,
        "need": lead.need,
        "urgency": lead.urgency,
        "zip_code": lead.zip_code,
        "price_cents": lead.price_cents,
        "exclusive": lead.exclusive,
        "places_left": p.places_left,
        "age_hours": int(p.age.total_seconds() // 3600),
        "seller_sales": p.seller_sales,
        "seller_score": p.seller_quality.score if p.seller_quality else None,
    }


def _purchase(purchase: LeadPurchase, *, checkout_url: str | None = None) -> dict[str, Any]:
    data = {
        name: getattr(purchase, name)
        for name in field_names(PurchaseSchema)
        if hasattr(purchase, name)
    }
    data["checkout_url"] = checkout_url
    data["customer"] = contact.contact_for_buyer(get_session(), purchase, user_id=None)
    return data


@blp.route("")
class Leads(MethodView):
    decorators = [api_key_required]

    @blp.arguments(PageArgs, location="query")
    @blp.response(200, PreviewListSchema)
    @_documented
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Leads you may buy: anonymised previews, newest first, a page at a time."""
        found = marketplace.market_page(
            get_session(), g.business, page=args["page"], per_page=args["per_page"]
        )
        return {
            "items": [_preview(p) for p in found.previews],
            "page": found.page,
            "per_page": found.per_page,
            "total": found.total,
        }

    @blp.arguments(NewLeadSchema)
    @blp.response(201, LeadSchema)
    @_documented
    def post(self, data: dict[str, Any]) -> Lead:
        """List a customer's need for sale; it goes live when the customer agrees."""
        return offers.offer_lead(
            session=get_session(), actor=current_actor(), data=offers.NewLead(**data)
        )


@blp.route("/mine")
class MyLeads(MethodView):
    decorators = [api_key_required]

    @blp.response(200, LeadListSchema)
    @_documented
    def get(self) -> dict[str, Any]:
        """Leads you listed."""
        rows = (
            get_session()
            .exec(
                select(Lead)
                .where(Lead.seller_id == g.business.id)
                .order_by(Lead.id.desc())
                .limit(200)  # type: ignore[union-attr]
            )
            .all()
        )
        return {"items": rows}


@blp.route("/<int:lead_id>")
class LeadItem(MethodView):
    decorators = [api_key_required]

    @blp.response(200, PreviewSchema)
    @_documented
    def get(self, lead_id: int) -> dict[str, Any]:
        """A lead you may buy (or bought), as its anonymised preview."""
        db = get_session()
        lead = marketplace.get_lead_for_buyer(db, g.business, lead_id)
        return _preview(marketplace.preview(db, g.business, lead))


@blp.route("/<int:lead_id>/purchases")
class Buy(MethodView):
    decorators = [api_key_required]

    @blp.arguments(BuySchema)
    @blp.response(201, PurchaseSchema)
    @_documented
    @blp.alt_response(503, description="Stripe cannot be reached; try again.", schema="Error")
    def post(self, data: dict[str, Any], lead_id: int) -> dict[str, Any]:
        """Reserve a place for 15 minutes and pay: with your saved card (charged at once)
        or on Stripe Checkout (follow `checkout_url`). Nothing is reserved when the
        Checkout page cannot be opened."""
        db = get_session()
        purchase = purchases.reserve(
            session=db, actor=current_actor(), lead_id=lead_id, method=data["method"]
        )
        url = None
        if data["method"] == "checkout":
            try:
                url = purchases.checkout_url(
                    session=db,
                    purchase=purchase,
                    success_url=absolute_url("leads.purchase", purchase_id=purchase.id or 0),
                    cancel_url=absolute_url("leads.show", lead_id=lead_id),
                )
            except gateway.PaymentsUnavailable:
                abort(503, "Stripe cannot be reached right now. Please try again in a minute.")
            except gateway.PaymentRefused as refused:
                raise DomainError(
                    "Stripe refused to open a payment page for this lead; try again later."
                ) from refused
        return _purchase(purchase, checkout_url=url)


@blp.route("/<int:lead_id>/withdraw")
class Withdraw(MethodView):
    decorators = [api_key_required]

    @blp.response(200, LeadSchema)
    @_documented
    def post(self, lead_id: int) -> Lead:
        """Take an unsold lead off the marketplace."""
        return offers.withdraw_lead(session=get_session(), actor=current_actor(), lead_id=lead_id)


@blp.route("/purchases")
class Purchases(MethodView):
    decorators = [api_key_required]

    @blp.response(200, PurchaseListSchema)
    @_documented
    def get(self) -> dict[str, Any]:
        """Leads you bought (contact details on each once paid)."""
        rows = (
            get_session()
            .exec(
                select(LeadPurchase)
                .where(LeadPurchase.buyer_id == g.business.id)
                .order_by(LeadPurchase.id.desc())
                .limit(200)  # type: ignore[union-attr]
            )
            .all()
        )
        return {"items": [_purchase(p) for p in rows]}


@blp.route("/purchases/<int:purchase_id>")
class PurchaseItem(MethodView):
    decorators = [api_key_required]

    @blp.response(200, PurchaseSchema)
    @_documented
    def get(self, purchase_id: int) -> dict[str, Any]:
        """One purchase; the customer's details once Stripe confirmed the payment."""
        return _purchase(purchases.get_purchase(get_session(), g.business.id, purchase_id))


@blp.route("/purchases/<int:purchase_id>/outcome")
class Outcome(MethodView):
    decorators = [api_key_required]

    @blp.arguments(OutcomeSchema)
    @blp.response(200, PurchaseSchema)
    @_documented
    def post(self, data: dict[str, Any], purchase_id: int) -> dict[str, Any]:
        """Report what came of a lead you bought."""
        purchase = purchases.report_outcome(
            session=get_session(),
            actor=current_actor(),
            purchase_id=purchase_id,
            outcome=data["outcome"],
        )
        return _purchase(purchase)


@blp.route("/purchases/<int:purchase_id>/disputes")
class Disputes(MethodView):
    decorators = [api_key_required]

    @blp.arguments(DisputeInSchema)
    @blp.response(201, DisputeSchema)
    @_documented
    def post(self, data: dict[str, Any], purchase_id: int) -> Any:
        """Dispute a bad lead within 7 days of buying it."""
        return disputes.open_dispute(
            session=get_session(),
            actor=current_actor(),
            purchase_id=purchase_id,
            reason=data["reason"],
            note=data["note"],
        )
