"""Partnership input and output: the API speaks basis points and cents; the
pages speak percent and dollars and convert to the same `TermsOffer`."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import marshmallow as ma

from referral.forms import FormSchema
from referral.ids import IdField
from referral.money import Cents, Dollars
from referral.partnerships.models import (
    MAX_FLAT_FEE_CENTS,
    MAX_HOLD_DAYS,
    MAX_RATE_BPS,
    MAX_RESPONSE_HOURS,
    MIN_RESPONSE_HOURS,
)
from referral.partnerships.services import TermsPair
from referral.partnerships.terms import BASES, TermsOffer

BASIS_CHOICE = ma.validate.OneOf(list(BASES), error="Choose how the commission is counted.")
HOLD_RANGE = ma.validate.Range(
    min=0, max=MAX_HOLD_DAYS, error=f"Choose a hold period of 0 to {MAX_HOLD_DAYS} days."
)
WINDOW_RANGE = ma.validate.Range(
    min=MIN_RESPONSE_HOURS,
    max=MAX_RESPONSE_HOURS,
    error=f"Choose {MIN_RESPONSE_HOURS} to {MAX_RESPONSE_HOURS} hours.",
)
MESSAGE = ma.validate.Length(max=2000, error="Keep the message under 2,000 characters.")


FLAT_BASES = ("flat_per_won", "flat_per_accepted")


def _require_amount_of_basis(data: dict[str, Any], rate_field: str, fee_field: str) -> None:
    if data.get("basis") == "percent" and data.get("rate_bps") is None:
        raise ma.ValidationError("Enter the percentage.", rate_field)
    if data.get("basis") in FLAT_BASES and (data.get("flat_fee_cents") is None):
        raise ma.ValidationError("Enter the fee.", fee_field)


def _offer_of(data: dict[str, Any]) -> TermsOffer:
    """Only the amount the basis uses is kept."""
    unused = "flat_fee_cents" if data["basis"] == "percent" else "rate_bps"
    return TermsOffer(**{k: v for k, v in data.items() if k != unused and v is not None})


# --- API -------------------------------------------------------------------------


class TermsSchema(ma.Schema):
    basis = ma.fields.String(required=True, validate=BASIS_CHOICE, metadata={"example": "percent"})
    rate_bps = ma.fields.Integer(
        strict=True,
        validate=ma.validate.Range(
            min=1, max=MAX_RATE_BPS, error=f"Choose 1 to {MAX_RATE_BPS} basis points."
        ),
        allow_none=True,
        metadata={"description": "For basis 'percent': 1250 is 12.5%.", "example": 1000},
    )
    flat_fee_cents = Cents(minimum=1, maximum=MAX_FLAT_FEE_CENTS, allow_none=True)
    cap_cents = Cents(minimum=1, maximum=MAX_FLAT_FEE_CENTS, allow_none=True)
    currency = ma.fields.String(dump_only=True)
    hold_days = ma.fields.Integer(strict=True, load_default=14, validate=HOLD_RANGE)
    response_window_hours = ma.fields.Integer(strict=True, load_default=48, validate=WINDOW_RANGE)

    @ma.validates_schema
    def _basis_needs_its_amount(self, data: dict[str, Any], **_: Any) -> None:
        _require_amount_of_basis(data, "rate_bps", "flat_fee_cents")

    @ma.post_load
    def _offer(self, data: dict[str, Any], **_: Any) -> TermsOffer:
        return _offer_of(data)


class TermsPairSchema(ma.Schema):
    they_refer_to_me = ma.fields.Nested(
        TermsSchema,
        required=True,
        metadata={"description": "What I pay the partner for each referral it sends me."},
    )
    i_refer_to_them = ma.fields.Nested(
        TermsSchema,
        required=True,
        metadata={"description": "What the partner pays me for each referral I send it."},
    )
    message = ma.fields.String(load_default="", validate=MESSAGE)


class ProposePartnershipSchema(TermsPairSchema):
    partner_id = IdField(required=True)


class ReasonSchema(ma.Schema):
    reason = ma.fields.String(load_default="", validate=MESSAGE)


def terms_pair(data: dict[str, Any]) -> TermsPair:
    return TermsPair(
        they_refer_to_me=data["they_refer_to_me"], i_refer_to_them=data["i_refer_to_them"]
    )


# --- pages -----------------------------------------------------------------------


def _percent_to_bps(text: str) -> int:
    try:
        value = Decimal(text.strip().removesuffix("%"))
    except InvalidOperation as exc:
        raise ma.ValidationError("Enter a percentage such as 10 or 12.5.") from exc
    bps = value * 100
    if bps != bps.to_integral_value():
        raise ma.ValidationError("Use at most two decimals.")
    if not 0 < bps <= MAX_RATE_BPS:
        raise ma.ValidationError(f"Enter more than 0% and at most {MAX_RATE_BPS // 100}%.")
    return int(bps)


class PercentField(ma.fields.Field):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        return _percent_to_bps(str(value))


DIRECTIONS = ("they_refer_to_me", "i_refer_to_them")


class TermsFormSchema(FormSchema):
    """One direction's terms from a form; the page prefixes each field with the
    direction (`they_refer_to_me-basis`, ...)."""

    basis = ma.fields.String(required=True, validate=BASIS_CHOICE)
    rate_bps = PercentField(data_key="percent")
    flat_fee_cents = Dollars(minimum=1, maximum=MAX_FLAT_FEE_CENTS, data_key="flat_fee")
    cap_cents = Dollars(minimum=1, maximum=MAX_FLAT_FEE_CENTS, data_key="cap")
    hold_days = ma.fields.Integer(required=True, validate=HOLD_RANGE)
    response_window_hours = ma.fields.Integer(required=True, validate=WINDOW_RANGE)

    @ma.pre_load
    def _only_the_amount_of_its_basis(self, data: Any, **_: Any) -> Any:
        """The form keeps the other basis's field (hidden, perhaps filled in
        before switching): it is not part of the terms, so not validated."""
        if not isinstance(data, dict):
            return data
        basis = data.get("basis")
        unused = "flat_fee" if basis == "percent" else "percent" if basis in FLAT_BASES else None
        return {k: v for k, v in data.items() if k != unused}

    @ma.validates_schema
    def _basis_needs_its_amount(self, data: dict[str, Any], **_: Any) -> None:
        _require_amount_of_basis(data, "percent", "flat_fee")

    @ma.post_load
    def _offer(self, data: dict[str, Any], **_: Any) -> TermsOffer:
        return _offer_of(data)


def parse_terms_form(
    form: Any,
) -> tuple[TermsPair | None, str, dict[str, list[str]]]:
    """Terms for both directions and the message from a proposal form, or
    field errors keyed `<direction>-<field>`."""
    offers: dict[str, TermsOffer] = {}
    errors: dict[str, list[str]] = {}
    for direction in DIRECTIONS:
        prefix = f"{direction}-"
        raw = {k.removeprefix(prefix): form.get(k) for k in form.keys() if k.startswith(prefix)}
        try:
            offers[direction] = TermsFormSchema().load(raw)
        except ma.ValidationError as exc:
            for field, messages in exc.normalized_messages().items():
                errors[f"{prefix}{field}"] = messages if isinstance(messages, list) else [messages]
    message = (form.get("message") or "").strip()
    if len(message) > 2000:
        errors["message"] = ["Keep the message under 2,000 characters."]
    if errors:
        return None, message, errors
    return TermsPair(**offers), message, {}
