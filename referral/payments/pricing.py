"""What a charge costs the platform, and the smallest charge worth making.

On a destination charge the platform pays Stripe's processing fee (a percentage
plus a fixed amount) out of its own application fee. Below the break-even
amount the platform fee does not cover it: every such charge loses money. The
minimum settlement and the minimum lead price default to that break-even amount
(configurable, see docs/stripe.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from referral.money import apply_basis_points


def stripe_fee_cents(amount_cents: int, config: Mapping[str, Any]) -> int:
    """Stripe's processing fee on a card charge of `amount_cents` (rounded up)."""
    percent = math.ceil(amount_cents * int(config["STRIPE_PROCESSING_FEE_BPS"]) / 10_000)
    return percent + int(config["STRIPE_PROCESSING_FEE_FIXED_CENTS"])


def break_even_cents(config: Mapping[str, Any]) -> int:
    """The smallest amount from which on every charge's platform fee pays
    Stripe's processing fee. Raises ValueError when none does (the platform fee
    rate is not above Stripe's)."""
    fee_bps = int(config["PLATFORM_FEE_BPS"])
    margin_bps = fee_bps - int(config["STRIPE_PROCESSING_FEE_BPS"])
    if margin_bps <= 0:
        raise ValueError(
            "PLATFORM_FEE_BPS must be above STRIPE_PROCESSING_FEE_BPS, or every charge loses money"
        )

    def pays(amount: int) -> bool:
        return apply_basis_points(amount, fee_bps) >= stripe_fee_cents(amount, config)

    # From here on every amount pays, whatever the rounding of either fee does
    # (it moves them by under 1.5 cents together); then down while it still pays.
    fixed = int(config["STRIPE_PROCESSING_FEE_FIXED_CENTS"])
    amount = math.ceil((fixed + 1.5) * 10_000 / margin_bps)
    while amount > 1 and pays(amount - 1):
        amount -= 1
    return amount


def resolve_minimums(config: dict[str, Any]) -> None:
    """Default SETTLEMENT_MINIMUM_CENTS and LEAD_MINIMUM_PRICE_CENTS to the
    break-even amount when they are not set."""
    for name in ("SETTLEMENT_MINIMUM_CENTS", "LEAD_MINIMUM_PRICE_CENTS"):
        if config.get(name) is None:
            config[name] = break_even_cents(config)
