"""Money is integer minor units (cents) with an ISO 4217 currency code; never floats.

This module holds the only conversions between cents and text, and the one
rounding rule (half up) the product uses; and `Rate`, the exact ratio the
figures are shown as (a conversion rate, a seller's dispute rate).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

import marshmallow as ma

SYMBOLS = {"USD": "$"}
AMOUNT_PATTERN = re.compile(r"^\d{1,12}(\.\d{1,2})?$")


def format_cents(cents: int, currency: str = "USD") -> str:
    """1234567 -> "$12,345.67" (negative amounts get a leading minus)."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(int(cents)), 100)
    symbol = SYMBOLS.get(currency)
    number = f"{whole:,}.{part:02d}"
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {currency}"


def parse_amount(text: str) -> int | None:
    """ "1,250.5" or "$1250.50" -> 125050 cents; None when it is not an amount.
    At most two decimals: an amount is never rounded silently."""
    cleaned = (text or "").strip().replace(",", "").removeprefix("$").strip()
    if not AMOUNT_PATTERN.match(cleaned):
        return None
    try:
        return int(Decimal(cleaned) * 100)
    except InvalidOperation:  # pragma: no cover - the pattern already excludes it
        return None


def cents_to_decimal_text(cents: int) -> str:
    """125050 -> "1250.50", for form fields."""
    whole, part = divmod(abs(int(cents)), 100)
    return f"{'-' if cents < 0 else ''}{whole}.{part:02d}"


def apply_basis_points(cents: int, bps: int) -> int:
    """`bps` basis points of `cents`, rounded half up to the cent."""
    exact = Decimal(cents) * Decimal(bps) / Decimal(10_000)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


# --- bounds and input ------------------------------------------------------------

# The largest job value (and so refund) anyone may enter: $100m. Anything above
# is a typing mistake or an attack, and would overflow sums downstream.
MAX_JOB_CENTS = 100_000_000_00
# The largest settlement amount stored: room for many maximal commissions, far
# below the 64-bit limit so sums in reports cannot overflow.
MAX_SETTLEMENT_CENTS = 1_000 * MAX_JOB_CENTS


class AmountError(ValueError):
    """Text that is not an amount, or an amount out of its range; the message
    says what to enter."""


def range_message(minimum: int, maximum: int) -> str:
    return f"Enter an amount from {format_cents(minimum)} to {format_cents(maximum)}."


def cents_from_dollars(text: str, *, minimum: int, maximum: int) -> int:
    """ "$1,250.00" -> 125000, exactly, within [minimum, maximum] cents.
    Fails with AmountError on text that is not an amount or is out of range."""
    if not isinstance(text, str) or len(text) > 40:
        raise AmountError("Enter an amount in dollars, such as 1250 or 1250.50.")
    cents = parse_amount(text)
    if cents is None:
        raise AmountError("Enter an amount in dollars, such as 1250 or 1250.50.")
    if not minimum <= cents <= maximum:
        raise AmountError(range_message(minimum, maximum))
    return cents


class Cents(ma.fields.Integer):
    """An amount in cents in API JSON: an integer (never a float, a numeric
    string or a boolean) from `minimum` to `maximum`."""

    def __init__(self, *, minimum: int = 0, maximum: int, **kwargs: Any) -> None:
        kwargs.setdefault(
            "validate",
            ma.validate.Range(
                min=minimum,
                max=maximum,
                error=f"Must be from {minimum} to {maximum} cents"
                f" ({format_cents(minimum)} to {format_cents(maximum)}).",
            ),
        )
        kwargs["metadata"] = {
            "description": f"Cents, {format_cents(minimum)} to {format_cents(maximum)}.",
            **kwargs.get("metadata", {}),
        }
        super().__init__(strict=True, **kwargs)


class Dollars(ma.fields.Field):
    """An amount typed into a form or a CSV cell ("1250", "$1,250.50"), loaded
    as exact cents from `minimum` to `maximum`."""

    def __init__(self, *, minimum: int = 0, maximum: int, **kwargs: Any) -> None:
        self.minimum, self.maximum = minimum, maximum
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        try:
            return cents_from_dollars(value, minimum=self.minimum, maximum=self.maximum)
        except AmountError as error:
            raise ma.ValidationError(str(error)) from error


@dataclass(frozen=True)
class Rate:
    """An exact ratio; `None` percent when there is nothing to divide by."""

    numerator: int
    denominator: int

    @property
    def fraction(self) -> Fraction | None:
        return Fraction(self.numerator, self.denominator) if self.denominator else None

    @property
    def percent(self) -> float | None:  # display only
        return 100 * self.numerator / self.denominator if self.denominator else None
