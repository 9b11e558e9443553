"""Webhook endpoint input and output, for the API and the pages."""

from __future__ import annotations

import marshmallow as ma

from referral.events.models import EVENT_TYPES

URL_FIELD_ERROR = "Enter a URL like https://example.com/webhooks."


class EndpointInSchema(ma.Schema):
    url = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=2000, error=URL_FIELD_ERROR),
        metadata={"example": "https://crm.example.com/hooks/referral"},
    )
    event_types = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(EVENT_TYPES)),
        required=True,
        validate=ma.validate.Length(min=1, error="Choose at least one event type."),
        metadata={"example": ["referral.received", "referral.won"]},
    )
    description = ma.fields.String(load_default="", validate=ma.validate.Length(max=200))


class EndpointSchema(ma.Schema):
    id = ma.fields.Integer()
    url = ma.fields.String()
    description = ma.fields.String()
    event_types = ma.fields.List(ma.fields.String())
    status = ma.fields.String(metadata={"enum": ["enabled", "disabled"]})
    disabled_reason = ma.fields.String()
    failing_since = ma.fields.DateTime(allow_none=True)
    created_at = ma.fields.DateTime()


class EndpointWithSecretSchema(EndpointSchema):
    secret = ma.fields.String(
        metadata={"description": "The signing secret (whsec_...): verify webhooks with it."}
    )
    previous_secret_expires_at = ma.fields.DateTime(
        allow_none=True,
        metadata={"description": "Until then the secret before the last rotation signs too."},
    )


class EventSchema(ma.Schema):
    id = ma.fields.Integer()
    type = ma.fields.String()
    created_at = ma.fields.DateTime()
    data = ma.fields.Dict()


class AttemptSchema(ma.Schema):
    id = ma.fields.Integer()
    webhook_id = ma.fields.String()
    event_id = ma.fields.Integer()
    event_type = ma.fields.String()
    number = ma.fields.Integer()
    status_code = ma.fields.Integer(allow_none=True)
    succeeded = ma.fields.Boolean()
    duration_ms = ma.fields.Integer()
    response_excerpt = ma.fields.String()
    error = ma.fields.String()
    created_at = ma.fields.DateTime()


class DeliverySchema(ma.Schema):
    id = ma.fields.Integer()
    endpoint_id = ma.fields.Integer()
    event_id = ma.fields.Integer()
    status = ma.fields.String()
    attempts = ma.fields.Integer()
