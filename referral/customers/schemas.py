"""Customer and job input: the same rules for forms, the API and CSV rows."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import marshmallow as ma

from referral.businesses.schemas import normalise_phone, validate_phone, validate_zip
from referral.forms import FormSchema
from referral.money import MAX_JOB_CENTS, Cents, Dollars

EXTENSION = re.compile(
    r"^(?P<number>.*?\d.*?)[\s,;]*(?:ext\.?|extension|x|#)\s*(?P<ext>\d{1,10})$", re.I
)


def split_extension(value: str) -> tuple[str, str]:
    """ "5125550324 ext 3" -> ("5125550324", "3"); a number without one -> (value, "")."""
    match = EXTENSION.match(value.strip())
    if match is None:
        return value.strip(), ""
    return match["number"].strip(), match["ext"]


def _validate_phone_with_extension(value: str) -> None:
    validate_phone(split_extension(value)[0])


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
    phone = ma.fields.String(
        load_default="",
        validate=_validate_phone_with_extension,
        metadata={"description": "With an extension if any: '512 555 0324 ext 3'."},
    )
    phone_extension = ma.fields.String(
        load_default="",
        validate=ma.validate.Regexp(r"^\d{0,10}$", error="Enter the extension's digits."),
    )
    address = ma.fields.String(load_default="", validate=ma.validate.Length(max=255))
    city = ma.fields.String(load_default="", validate=ma.validate.Length(max=80))
    state = ma.fields.String(load_default="", validate=ma.validate.Length(max=40))
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
            number, extension = split_extension(data["phone"])
            data["phone"] = normalise_phone(number)
            data["phone_extension"] = extension or data.get("phone_extension", "")
        return data


class CustomerFormSchema(FormSchema, CustomerFields):
    pass


class CustomerSchema(CustomerFields):
    """API input."""


class CustomerOutSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    email = ma.fields.String()
    phone = ma.fields.String(metadata={"description": "E.164."})
    phone_extension = ma.fields.String()
    mobile = ma.fields.String()
    address = ma.fields.String()
    city = ma.fields.String()
    state = ma.fields.String()
    zip_code = ma.fields.String()
    notes = ma.fields.String()
    external_id = ma.fields.String()
    marketing_permission = ma.fields.String()
    marketing_permission_date = ma.fields.Date(allow_none=True)
    marketing_permission_source = ma.fields.String()
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

    amount_cents = Cents(required=True, maximum=MAX_JOB_CENTS)


def DollarAmount(**kwargs: Any) -> Dollars:  # noqa: N802 - a field, named like one
    """A job's amount typed into a form or a CSV cell."""
    return Dollars(maximum=MAX_JOB_CENTS, **kwargs)


class JobFormSchema(FormSchema, JobFields):
    amount_cents = DollarAmount(required=True, data_key="amount")


class JobOutSchema(ma.Schema):
    id = ma.fields.Integer()
    job_date = ma.fields.Date()
    description = ma.fields.String()
    amount_cents = ma.fields.Integer()
    currency = ma.fields.String()
