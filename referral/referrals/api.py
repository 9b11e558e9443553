"""API: referrals sent and received, their consent receipts (/api/v1/referrals)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import g, request
from flask.views import MethodView

from referral.auth.current import api_key_required
from referral.businesses.actor import current_actor
from referral.consent import services as consent
from referral.consent.models import ATTESTED_METHODS, SENDER_METHODS, ConsentMethod
from referral.consent.visibility import ConsentState
from referral.db import get_session
from referral.errors import NotFound, ValidationFailed
from referral.ids import IdField
from referral.money import MAX_JOB_CENTS, Cents
from referral.partnerships.schemas import ReasonSchema
from referral.referrals import services
from referral.referrals.listing import referral_rows
from referral.referrals.models import STATUSES, URGENCIES, Referral
from referral.referrals.services import NewReferral
from referral.restapi import Blueprint, PageArgs, field_names, page_schema

blp = Blueprint(
    "api_referrals",
    __name__,
    url_prefix="",
    description="Refer customers to partners with their consent, and report outcomes.",
)


class NewReferralSchema(ma.Schema):
    partner_id = IdField(required=True)
    customer_id = IdField(required=True)
    need = ma.fields.String(required=True, validate=ma.validate.Length(min=3, max=2000))
    urgency = ma.fields.String(required=True, validate=ma.validate.OneOf(list(URGENCIES)))
    preferred_contact_time = ma.fields.String(load_default="", validate=ma.validate.Length(max=120))
    consent_method = ma.fields.String(
        load_default=ConsentMethod.EMAIL_LINK, validate=ma.validate.OneOf(list(SENDER_METHODS))
    )
    attested_on = ma.fields.Date(load_default=None)

    @ma.validates_schema(skip_on_field_errors=False)
    def _attestation_has_a_date(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("consent_method") in ATTESTED_METHODS and not data.get("attested_on"):
            raise ma.ValidationError("When did the customer agree?", "attested_on")


class ContactSchema(ma.Schema):
    name = ma.fields.String()
    email = ma.fields.String()
    phone = ma.fields.String()
    address = ma.fields.String()
    zip_code = ma.fields.String()


class ReferralSchema(ma.Schema):
    id = ma.fields.Integer()
    sender_id = ma.fields.Integer()
    receiver_id = ma.fields.Integer()
    partnership_id = ma.fields.Integer()
    terms_version_id = ma.fields.Integer()
    status = ma.fields.String()
    need = ma.fields.String()
    urgency = ma.fields.String()
    preferred_contact_time = ma.fields.String()
    consent_method = ma.fields.String()
    created_at = ma.fields.DateTime()
    sent_at = ma.fields.DateTime(allow_none=True)
    respond_by = ma.fields.DateTime(allow_none=True)
    accepted_at = ma.fields.DateTime(allow_none=True)
    job_value_cents = ma.fields.Integer(allow_none=True)
    job_date = ma.fields.Date(allow_none=True)
    customer = ma.fields.Nested(
        ContactSchema,
        allow_none=True,
        metadata={"description": "Only once the receiver has accepted, while consent stands."},
    )


class ReferralListArgs(PageArgs):
    direction = ma.fields.String(
        load_default="received", validate=ma.validate.OneOf(["received", "sent"])
    )
    status = ma.fields.String(validate=ma.validate.OneOf(list(STATUSES)))


class WonSchema(ma.Schema):
    job_value_cents = Cents(required=True, maximum=MAX_JOB_CENTS)
    job_date = ma.fields.Date(required=True)


class EvidenceSchema(ma.Schema):
    sha256 = ma.fields.String()
    content_type = ma.fields.String()
    size_bytes = ma.fields.Integer(allow_none=True)
    uploaded_at = ma.fields.DateTime(allow_none=True)
    deleted_on_erasure = ma.fields.Boolean()


class ReceiptSchema(ma.Schema):
    referral_id = ma.fields.Integer()
    complete = ma.fields.Boolean(
        metadata={
            "description": "False for a receiving business while it may not see the customer: "
            "then only that the consent exists, its decision and hash check are given."
        }
    )
    customer = ma.fields.String(allow_none=True)
    referring_business = ma.fields.String()
    receiving_business = ma.fields.String()
    data_categories = ma.fields.List(ma.fields.String(), allow_none=True)
    purpose = ma.fields.String(allow_none=True)
    text_version = ma.fields.String()
    text_sha256 = ma.fields.String()
    text = ma.fields.String(allow_none=True)
    hash_matches = ma.fields.Boolean()
    method = ma.fields.String(allow_none=True)
    decision = ma.fields.String()
    agreed_at = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "When the customer answered: the day they told staff (YYYY-MM-DD) "
            "for recorded consent, the moment they clicked for the emailed link."
        },
    )
    recorded_at = ma.fields.DateTime(allow_none=True)
    recorded_by = ma.fields.String(allow_none=True)
    withdrawn = ma.fields.Boolean()
    withdrawn_at = ma.fields.DateTime(allow_none=True)
    evidence = ma.fields.Nested(EvidenceSchema, allow_none=True)


# A list row's consent state (referral/referrals/listing.py), as the visibility rule names it.
LISTED_CONSENT = {
    "asked": ConsentState.NONE,
    "given": ConsentState.GIVEN,
    "refused": ConsentState.REFUSED,
    "withdrawn": ConsentState.WITHDRAWN,
}


def _view(referral: Referral, consent_state: ConsentState | None = None) -> dict[str, Any]:
    session = get_session()
    data = {
        name: getattr(referral, name) for name in field_names(ReferralSchema) if name != "customer"
    }
    sight, data["customer"] = services.customer_in_sight(
        session, referral, g.business.id, consent_state=consent_state
    )
    if sight.identity and referral.receiver_id == g.business.id:
        services.record_contact_view(session=session, referral=referral, user_id=None)
    return data


ERRORS = [
    (401, "No valid API key."),
    (404, "Not one of your referrals."),
    (409, "Not allowed in this state."),
]


def _documented(view: Any) -> Any:
    for code, description in ERRORS:
        view = blp.alt_response(code, description=description, schema="Error")(view)
    return view


@blp.route("/referrals")
class Referrals(MethodView):
    decorators = [api_key_required]

    @blp.arguments(ReferralListArgs, location="query")
    @blp.response(200, page_schema(ReferralSchema))
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Referrals you received (default) or sent, newest first."""
        found = referral_rows(
            session=get_session(),
            business_id=g.business.id,
            direction="inbox" if args["direction"] == "received" else "outbox",
            status=args.get("status"),
            offset=(args["page"] - 1) * args["per_page"],
            limit=args["per_page"],
        )
        # One statement for the page's customers; each row's consent state came with it.
        customers = services.load_customers(get_session(), (row.referral for row in found.rows))
        items = [_view(row.referral, LISTED_CONSENT[row.consent_state]) for row in found.rows]
        del customers  # held in the session until here
        return {
            "items": items,
            "total": found.total,
            "page": args["page"],
            "per_page": args["per_page"],
        }

    @blp.arguments(NewReferralSchema)
    @blp.response(201, ReferralSchema)
    @_documented
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Refer one of your customers to an active partner, with their consent."""
        key = request.headers.get("Idempotency-Key") or None
        if key is not None and len(key) > 80:
            raise ValidationFailed(
                "Some fields are not valid.", errors={"Idempotency-Key": ["At most 80 characters."]}
            )
        referral = services.send_referral(
            session=get_session(),
            actor=current_actor(),
            data=NewReferral(**data, idempotency_key=key),
        )
        return _view(referral)


@blp.route("/referrals/<int:referral_id>")
class ReferralItem(MethodView):
    decorators = [api_key_required]

    @blp.response(200, ReferralSchema)
    @_documented
    def get(self, referral_id: int) -> dict[str, Any]:
        """One referral; the customer's contact details only when you may see them."""
        return _view(
            services.get_referral(
                session=get_session(), business_id=g.business.id, referral_id=referral_id
            )
        )


@blp.route("/referrals/<int:referral_id>/consent")
class ConsentReceipt(MethodView):
    decorators = [api_key_required]

    @blp.response(200, ReceiptSchema)
    @_documented
    def get(self, referral_id: int) -> dict[str, Any]:
        """The consent receipt, with a check that its text matches the stored hash.
        The receiving business gets the whole receipt only while it may see the
        customer; before and after, that the consent exists and its hash check."""
        session = get_session()
        referral = services.get_referral(
            session=session, business_id=g.business.id, referral_id=referral_id
        )
        record = consent.latest_record(session, referral_id)
        if record is None:
            raise NotFound("The customer has not answered yet.")
        sight = services.customer_sight(session, referral, g.business.id)
        if sight.full_receipt and referral.receiver_id == g.business.id:
            services.record_contact_view(session=session, referral=referral, user_id=None)
        return consent.receipt(session, record, full=sight.full_receipt)


def _transition(name: str, action: Any, summary: str, schema: type[ma.Schema] | None) -> None:
    def post(self: MethodView, *args: Any, referral_id: int) -> dict[str, Any]:
        kwargs = dict(args[0]) if args else {}
        referral = action(
            session=get_session(), actor=current_actor(), referral_id=referral_id, **kwargs
        )
        return _view(referral)

    post.__doc__ = summary
    view = _documented(blp.response(200, ReferralSchema)(post))
    if schema is not None:
        view = blp.arguments(schema)(view)
    cls = type(
        f"Referral{name.title()}", (MethodView,), {"decorators": [api_key_required], "post": view}
    )
    blp.route(f"/referrals/<int:referral_id>/{name}", endpoint=f"referral_{name}")(cls)


for _name, _action, _summary, _schema in (
    ("accept", services.accept_referral, "Accept: the customer's contact details appear.", None),
    ("decline", services.decline_referral, "Decline, with an optional reason.", ReasonSchema),
    ("won", services.report_won, "Report the job won, with its value and date.", WonSchema),
    ("lost", services.report_lost, "Report the job lost.", ReasonSchema),
    ("withdraw", services.withdraw_referral, "Withdraw a referral you sent.", None),
):
    _transition(_name, _action, _summary, _schema)
