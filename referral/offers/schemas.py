"""Offer and opportunity input and output, for the API."""

from __future__ import annotations

import marshmallow as ma

from referral.money import MAX_JOB_CENTS, Cents
from referral.offers.models import OfferKind, OpportunityStatus
from referral.restapi import PageArgs


class OfferInSchema(ma.Schema):
    kind = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf([k.value for k in OfferKind]),
        metadata={"description": "`own`: your back end; `partner`: your partners' customers."},
    )
    title = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=120),
        metadata={"example": "First drain cleaning"},
    )
    benefit = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=200),
        metadata={"description": "What the customer gets", "example": "10% off"},
    )
    description = ma.fields.String(load_default="", validate=ma.validate.Length(max=5000))
    valid_from = ma.fields.Date(required=True)
    valid_until = ma.fields.Date(load_default=None, allow_none=True)
    zip_codes = ma.fields.List(
        ma.fields.String(validate=ma.validate.Regexp(r"^\d{5}$")),
        load_default=list,
        validate=ma.validate.Length(max=200),
        metadata={"description": "Only customers in these ZIP codes (empty: no ZIP limit)."},
    )
    radius_miles = ma.fields.Integer(
        strict=True,
        load_default=None,
        allow_none=True,
        validate=ma.validate.Range(min=1, max=500),
        metadata={"description": "Only customers within this many miles of your business."},
    )


class OfferSchema(ma.Schema):
    id = ma.fields.Integer()
    business_id = ma.fields.Integer()
    kind = ma.fields.String(metadata={"enum": [k.value for k in OfferKind]})
    title = ma.fields.String()
    benefit = ma.fields.String()
    description = ma.fields.String()
    valid_from = ma.fields.Date()
    valid_until = ma.fields.Date(allow_none=True)
    zip_codes = ma.fields.List(ma.fields.String())
    radius_miles = ma.fields.Integer(allow_none=True)
    ended_at = ma.fields.DateTime(allow_none=True)
    created_at = ma.fields.DateTime()


class PartnerOfferSchema(OfferSchema):
    partner_name = ma.fields.String()


class OpportunitySchema(ma.Schema):
    id = ma.fields.Integer()
    offer_id = ma.fields.Integer()
    customer_id = ma.fields.Integer()
    source_kind = ma.fields.String(metadata={"enum": ["campaign", "follow_up"]})
    source_id = ma.fields.Integer()
    status = ma.fields.String(metadata={"enum": [s.value for s in OpportunityStatus]})
    amount_cents = ma.fields.Integer(allow_none=True)
    currency = ma.fields.String()
    won_on = ma.fields.Date(allow_none=True)
    lost_reason = ma.fields.String()
    customer_job_id = ma.fields.Integer(allow_none=True)
    created_at = ma.fields.DateTime()
    closed_at = ma.fields.DateTime(allow_none=True)


class OpportunityArgs(PageArgs):
    status = ma.fields.String(
        load_default=None, validate=ma.validate.OneOf([s.value for s in OpportunityStatus])
    )


class OpportunityWonSchema(ma.Schema):
    amount_cents = Cents(required=True, minimum=0, maximum=MAX_JOB_CENTS)
    won_on = ma.fields.Date(required=True)


class OpportunityLostSchema(ma.Schema):
    reason = ma.fields.String(load_default="", validate=ma.validate.Length(max=1000))
