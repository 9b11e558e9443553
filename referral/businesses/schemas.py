"""Business profile and trade input and output.

The profile's fields and rules are written once (`ProfileFields`) and used by
the page form (`BusinessProfileSchema`: a blank optional input clears it) and
by the API (`BusinessUpdateSchema`: only the fields sent change).
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
import phonenumbers

from referral.auth.apikeys.schemas import ApiKeyOutSchema
from referral.auth.schemas import email_field, password_rule, person_name
from referral.businesses.geo import US_TIME_ZONES, locate_zip
from referral.businesses.models import MAX_RADIUS_MILES, MIN_RADIUS_MILES
from referral.forms import FormSchema

MAX_PHONE_INPUT = 40
MAX_DESCRIPTION = 2000
MAX_WEBSITE = 255
PHONE_ERROR = "Enter a valid phone number."
MAX_POSTAL_ADDRESS = 300
WEBSITE_ERROR = "Enter a website address starting with http:// or https://."
TRADE_SLUG_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
SLUG_ERROR = "Use lower-case letters, digits and single dashes, e.g. 'tile-setting'."

_url = ma.validate.URL(schemes={"http", "https"}, require_tld=True, error=WEBSITE_ERROR)


def validate_zip(value: str) -> None:
    if locate_zip(value) is None:
        raise ma.ValidationError("Unknown ZIP code: enter a five-digit US ZIP code.")


def validate_phone(value: str) -> None:
    """A phone number phonenumbers accepts (US numbers need no +1); "" clears it."""
    if value == "":
        return
    if len(value) > MAX_PHONE_INPUT:
        raise ma.ValidationError(PHONE_ERROR)
    try:
        parsed = phonenumbers.parse(value, "US")
    except phonenumbers.NumberParseException as exc:
        raise ma.ValidationError(PHONE_ERROR) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ma.ValidationError(PHONE_ERROR)


def validate_website(value: str) -> None:
    """An http or https address; "" clears it."""
    if value == "":
        return
    if len(value) > MAX_WEBSITE:
        raise ma.ValidationError(f"Use at most {MAX_WEBSITE} characters.")
    _url(value)


def normalise_phone(value: str) -> str:
    """E.164, the one form phone numbers are stored in."""
    return phonenumbers.format_number(
        phonenumbers.parse(value, "US"), phonenumbers.PhoneNumberFormat.E164
    )


RADIUS_RANGE = ma.validate.Range(
    min=MIN_RADIUS_MILES,
    max=MAX_RADIUS_MILES,
    error=f"Choose a radius from {MIN_RADIUS_MILES} to {MAX_RADIUS_MILES} miles.",
)


class ServiceAreaFields(ma.Schema):
    """Name, trade and service area: the fields sign-up and the profile share."""

    name = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=120, error="Enter a name of 1 to 120 characters."),
    )
    trade = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=60, error="Choose a trade."),
        error_messages={"required": "Choose a trade."},
        metadata={"description": "A trade's slug (see /trades).", "example": "hvac"},
    )
    zip_code = ma.fields.String(required=True, validate=validate_zip, metadata={"example": "78701"})
    radius_miles = ma.fields.Integer(required=True, strict=False, validate=RADIUS_RANGE)


class ProfileFields(ServiceAreaFields):
    """What an owner or manager may change about their business."""

    description = ma.fields.String(
        load_default="",
        validate=ma.validate.Length(
            max=MAX_DESCRIPTION, error=f"Use at most {MAX_DESCRIPTION} characters."
        ),
    )
    phone = ma.fields.String(
        load_default="",
        validate=validate_phone,
        metadata={
            "description": "Any common US format; stored as E.164.",
            "example": "+15125550100",
        },
    )
    website = ma.fields.String(
        load_default="",
        validate=validate_website,
        metadata={
            "description": "An address without a scheme gets https://.",
            "example": "https://example.com",
        },
    )
    postal_address = ma.fields.String(
        load_default="",
        validate=ma.validate.Length(
            max=MAX_POSTAL_ADDRESS, error=f"Use at most {MAX_POSTAL_ADDRESS} characters."
        ),
        metadata={
            "description": "Street, city, state and ZIP (or a PO box): every marketing "
            "email shows it, as CAN-SPAM requires; none can be sent without it.",
            "example": "1200 Congress Ave, Austin, TX 78701",
        },
    )
    time_zone = ma.fields.String(
        load_default="",
        validate=ma.validate.OneOf(("", *US_TIME_ZONES), error="Choose a time zone from the list."),
        metadata={
            "description": "An IANA zone times are shown in; empty: the ZIP code's zone.",
            "example": "America/Chicago",
        },
    )

    @ma.pre_load
    def _strip(self, data: Any, **_: Any) -> Any:
        if isinstance(data, dict):
            data = {k: v.strip() if isinstance(v, str) else v for k, v in data.items()}
            website = data.get("website")
            if isinstance(website, str) and website and "://" not in website:
                data["website"] = "https://" + website  # "example.com" is meant as a website
        return data

    @ma.post_load
    def _normalise(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if data.get("phone"):
            data["phone"] = normalise_phone(data["phone"])
        return data


class BusinessProfileSchema(FormSchema, ProfileFields):
    """The profile page's form: a blank optional input clears that field."""


class BusinessUpdateSchema(ProfileFields):
    """PATCH /business: only the fields sent change; "" clears description,
    phone or website; an unknown field is an error."""

    class Meta:
        unknown = ma.RAISE

    radius_miles = ma.fields.Integer(strict=True, validate=RADIUS_RANGE)  # JSON: an integer

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("partial", True)
        super().__init__(**kwargs)
        for field in self.fields.values():  # omitted means unchanged, never a default
            field.load_default = ma.missing


class TradeOutSchema(ma.Schema):
    slug = ma.fields.String()
    name = ma.fields.String()


class TradeListingSchema(TradeOutSchema):
    competes_with = ma.fields.List(
        ma.fields.String(),
        metadata={"description": "Slugs of the other trades it competes with."},
    )


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


class OwnBusinessSchema(BusinessPublicSchema):
    """My own business: its public profile and what only it sees."""

    postal_address = ma.fields.String()
    time_zone = ma.fields.String()


class MeSchema(ma.Schema):
    """The /me answer: the business an API key belongs to, and the key."""

    business = ma.fields.Nested(BusinessPublicSchema)
    api_key = ma.fields.Nested(ApiKeyOutSchema)


trade_name = ma.fields.String(
    required=True,
    error_messages={"required": "Enter a name of 1 to 80 characters."},
    validate=ma.validate.Length(min=1, max=80, error="Enter a name of 1 to 80 characters."),
)


class TradeIds(ma.fields.Field):
    """The ids of the ticked boxes of a checklist of trades."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> set[int]:
        values = value if isinstance(value, list | tuple) else [value]
        try:
            return {int(v) for v in values}
        except (TypeError, ValueError) as exc:
            raise ma.ValidationError("Choose trades from the list.") from exc


class NewTradeSchema(FormSchema):
    """The operator's "add a trade" form."""

    name = trade_name
    slug = ma.fields.String(
        required=True,
        error_messages={"required": SLUG_ERROR},
        validate=[
            ma.validate.Length(max=60, error="Use at most 60 characters."),
            ma.validate.Regexp(
                TRADE_SLUG_PATTERN,
                error=SLUG_ERROR,
            ),
        ],
    )


class TradeEditSchema(FormSchema):
    """The operator's form for one trade: its name and the trades it competes with."""

    name = trade_name
    competitors = TradeIds(load_default=set)


_area = ServiceAreaFields._declared_fields


class SignupSchema(FormSchema):
    """A new business (name, trade, service area) and its owner."""

    business_name = _area["name"]
    trade = _area["trade"]
    zip_code = _area["zip_code"]
    radius_miles = _area["radius_miles"]
    name = person_name
    email = email_field
    password = ma.fields.String(required=True, validate=password_rule, metadata={"verbatim": True})
