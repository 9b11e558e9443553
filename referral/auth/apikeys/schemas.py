"""The API key form, and a key as the API shows it."""

from __future__ import annotations

import marshmallow as ma

from referral.forms import FormSchema


class NewApiKeySchema(FormSchema):
    name = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=80, error="Name the key (1 to 80 characters)."),
        error_messages={"required": "Name the key (1 to 80 characters)."},
    )


class ApiKeyOutSchema(ma.Schema):
    name = ma.fields.String()
    prefix = ma.fields.String()
    created_at = ma.fields.DateTime()
    last_used_at = ma.fields.DateTime(allow_none=True)
