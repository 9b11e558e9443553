"""Customer and job input: the same rules for forms, the API and CSV rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import marshmallow as ma

from referral.businesses.schemas import normalise_phone, validate_phone, validate_zip
from referral.forms import FormSchema
from referral.money import parse_amount

MAX_JOB_CENTS = 100_000_000_00  # $100m: anything above is a typing mistake


class CustomerFields(ma.Schema):
    name = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=120, error="Enter a name of 1 to 120 characters."),
        error_messages={"required": "Enter the customer's name."},
    )
    email = ma.fields.Email(
        load_default="",
        validate=ma.validate.Length(max=254),
        error_messages={"invalid": "Enter a valid email address."},
    )
    phone = ma.fields.String(load_default="", validate=validate_phone)
    address = ma.fields.String(load_default="", validate=ma.validate.Length(max=255))
    zip_code = ma.fields.String(load_default="", validate=validate_zip)
    notes = ma.fields.String(load_default="", validate=ma.validate.Length(max=2000))

    @ma.validates_schema
    def _reachable(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("email") and not data.get("phone"):
            raise ma.ValidationError("Give an email address or a phone number.", "email")

    @ma.post_load
    def _normalise(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if data.get("email"):
            data["email"] = data["email"].strip().lower()
        if data.get("phone"):
            data["phone"] = normalise_phone(data["phone"])
        return data


class CustomerFormSchema(FormSchema, CustomerFields):
    pass


class CustomerSchema(CustomerFields):
    """API input."""


class CustomerOutSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    email = ma.fields.String()
    phone = ma.fields.String()
    address = ma.fields.String()
    zip_code = ma.fields.String()
    notes = ma.fields.String()
    created_at = ma.fields.DateTime()
    erased = ma.fields.Boolean()


def _not_in_future(value: dt.date) -> None:
    if value > dt.date.today() + dt.timedelta(days=1):
        raise ma.ValidationError("A past job cannot be in the future.")


class JobFields(ma.Schema):
    job_date = ma.fields.Date(
        required=True,
        validate=_not_in_future,
        error_messages={"invalid": "Enter a date as YYYY-MM-DD.", "required": "Enter the date."},
    )
    description = ma.fields.String(
        required=True,
        validate=ma.validate.Length(
            min=1, max=500, error="Describe the job (up to 500 characters)."
        ),
    )


class JobSchema(JobFields):
    """API input: the amount in cents."""

    amount_cents = ma.fields.Integer(
        required=True, validate=ma.validate.Range(min=0, max=MAX_JOB_CENTS)
    )


class DollarAmount(ma.fields.Field):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        cents = parse_amount(str(value))
        if cents is None:
            raise ma.ValidationError("Enter an amount in dollars, such as 1250 or 1250.50.")
        if cents > MAX_JOB_CENTS:
            raise ma.ValidationError("That amount is too large.")
        return cents


class JobFormSchema(FormSchema, JobFields):
    amount_cents = DollarAmount(required=True, data_key="amount")


class JobOutSchema(ma.Schema):
    id = ma.fields.Integer()
    job_date = ma.fields.Date()
    description = ma.fields.String()
    amount_cents = ma.fields.Integer()
    currency = ma.fields.String()
