"""The platform pays Stripe's processing fee on destination charges out of its
own fee: by default no settlement or lead is charged below the amount where the
platform fee covers it."""

from __future__ import annotations

import pytest

from referral.config import Config
from referral.money import apply_basis_points
from referral.payments.pricing import break_even_cents, resolve_minimums, stripe_fee_cents


def production(**env: str) -> dict[str, object]:
    return Config(env=env).as_dict()


def test_the_minimums_default_to_the_break_even_amount() -> None:
    config = production()

    resolve_minimums(config)

    assert (
        config["SETTLEMENT_MINIMUM_CENTS"] == config["LEAD_MINIMUM_PRICE_CENTS"] == 14_50
    )  # 2.9% + 30c under a 5% fee


@pytest.mark.parametrize("fee_bps", ["350", "500", "1000", "2000"])
def test_from_the_break_even_amount_the_platform_fee_covers_stripes_and_well_below_it_does_not(
    fee_bps: str,
) -> None:
    config = production(PLATFORM_FEE_BPS=fee_bps)
    amount = break_even_cents(config)

    def pays(cents: int) -> bool:
        return apply_basis_points(cents, int(fee_bps)) >= stripe_fee_cents(cents, config)

    assert all(pays(cents) for cents in range(amount, amount + 1_000))
    assert not pays(amount * 9 // 10)


def test_configured_minimums_are_kept() -> None:
    config = production(SETTLEMENT_MINIMUM_CENTS="5000", LEAD_MINIMUM_PRICE_CENTS="2500")

    resolve_minimums(config)

    assert (config["SETTLEMENT_MINIMUM_CENTS"], config["LEAD_MINIMUM_PRICE_CENTS"]) == (5000, 2500)


def test_a_platform_fee_no_higher_than_stripes_cannot_start_without_explicit_minimums() -> None:
    with pytest.raises(ValueError, match="PLATFORM_FEE_BPS"):
        resolve_minimums(production(PLATFORM_FEE_BPS="290"))
