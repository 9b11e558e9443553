"""Money is integer minor units (cents) with an ISO 4217 currency code; never floats.

This module holds the only conversions between cents and text, and the one
rounding rule (half up) the product uses.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

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
