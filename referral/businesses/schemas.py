"""Business profile input and output."""

from __future__ import annotations

import marshmallow as ma
import phonenumbers

from referral.businesses.geo import locate_zip
from referral.businesses.models import MAX_RADIUS_MILES, MIN_RADIUS_MILES
from referral.forms import FormSchema


def validate_zip(value: str) -> None:
    if locate_zip(value) is None:
        raise ma.ValidationError("Unknown ZIP code: enter a five-digit US ZIP code.")


def validate_phone(value: str) -> None:
    try:
        parsed = phonenumbers.parse(value, "US")
    except phonenumbers.NumberParseException as exc:
        raise ma.ValidationError("Enter a valid phone number.") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ma.ValidationError("Enter a valid phone number.")


def normalise_phone(value: str) -> str:
    """E.164, the one form phone numbers are stored in."""
    return phonenumbers.format_number(
        phonenumbers.parse(value, "US"), phonenumbers.PhoneNumberFormat.E164
    )


class ServiceAreaFields(FormSchema):
    name = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=120, error="Enter a name of 1 to 120 characters."),
    )
    trade = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=60, error="Choose a trade."),
        error_messages={"required": "Choose a trade."},
        metadata={"example": "hvac"},
    )
    zip_code = ma.fields.String(required=True, validate=validate_zip)
    radius_miles = ma.fields.Integer(
        required=True,
        strict=False,
        validate=ma.validate.Range(
            min=MIN_RADIUS_MILES,
            max=MAX_RADIUS_MILES,
            error=f"Choose a radius from {MIN_RADIUS_MILES} to {MAX_RADIUS_MILES} miles.",
        ),
    )


class BusinessProfileSchema(ServiceAreaFields):
    """What an owner or manager may change about their business."""

    description = ma.fields.String(load_default="", validate=ma.validate.Length(max=2000))
    phone = ma.fields.String(load_default="", validate=validate_phone)
    website = ma.fields.Url(
        load_default="", schemes={"http", "https"}, validate=ma.validate.Length(max=255)
    )

    @ma.post_load
    def _normalise(self, data: dict, **_: object) -> dict:
        if data.get("phone"):
            data["phone"] = normalise_phone(data["phone"])
        return data


class TradeOutSchema(ma.Schema):
    slug = ma.fields.String()
    name = ma.fields.String()


class BusinessPublicSchema(ma.Schema):
    """What any signed-in business may see of another."""

    id = ma.fields.Integer()
    name = ma.fields.String()
    trade = ma.fields.Nested(TradeOutSchema)
    zip_code = ma.fields.String()
    radius_miles = ma.fields.Integer()
    description = ma.fields.String()
    phone = ma.fields.String()
    website = ma.fields.String()
