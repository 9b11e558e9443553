"""Stripe's test card numbers and what each one does in the stand-in."""

from __future__ import annotations

from dataclasses import dataclass

from localstripe import resources as ls

from .base import StripeError, invalid_param


@dataclass(frozen=True)
class CardBehaviour:
    number: str
    label: str
    fails_at_setup: bool = False  # declined when saved (and when charged)
    decline_code: str | None = None  # declined when charged
    # 3-D Secure on every payment: succeeds only with the payer present on a
    # page of Stripe's; off-session it fails with authentication_required.
    requires_authentication: bool = False

    @property
    def declined_when_charged(self) -> bool:
        return self.decline_code is not None


TEST_CARDS = {
    card.number: card
    for card in (
        CardBehaviour("4242424242424242", "Visa, succeeds"),
        CardBehaviour(
            "4000000000000002",
            "Declined (generic_decline)",
            fails_at_setup=True,
            decline_code="generic_decline",
        ),
        CardBehaviour(
            "4000000000009995",
            "Declined (insufficient_funds)",
            decline_code="insufficient_funds",
        ),
        CardBehaviour(
            "4000000000000341",
            "Saves, but later charges are declined",
            decline_code="generic_decline",
        ),
        CardBehaviour(
            "4000002760003184",
            "Always asks for authentication (3-D Secure), also off-session",
            requires_authentication=True,
        ),
    )
}

# The cards the hosted checkout page offers, by mode.
PAYMENT_PAGE_CARDS = (
    "4242424242424242",
    "4000000000000002",
    "4000000000009995",
    "4000002760003184",
)
SETUP_PAGE_CARDS = (*PAYMENT_PAGE_CARDS, "4000000000000341")

DECLINE_MESSAGES = {
    "generic_decline": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "authentication_required": (
        "Your card was declined. This transaction requires authentication."
    ),
}


def card_for_number(number: str) -> CardBehaviour:
    card = TEST_CARDS.get(str(number).replace(" ", ""))
    if card is None:
        raise invalid_param(
            "card", f"Not a stand-in test card: {number}. Use one of {list(TEST_CARDS)}."
        )
    return card


def card_of(payment_method: ls.StripeObject) -> CardBehaviour:
    """The test card behind a payment method (unknown numbers simply succeed)."""
    number = getattr(payment_method, "_card_number", "")
    return TEST_CARDS.get(number, CardBehaviour(number, "card"))


def new_payment_method(card: CardBehaviour, *, customer: str | None = None) -> ls.PaymentMethod:
    payment_method = ls.PaymentMethod(
        type="card",
        card={"number": card.number, "exp_month": "12", "exp_year": "2034", "cvc": "123"},
    )
    payment_method.card["country"] = "US"
    payment_method.card["checks"] = {"cvc_check": "pass"}
    payment_method.customer = customer
    return payment_method


def card_declined(decline_code: str, **extra: object) -> StripeError:
    """Stripe's 402; an authentication failure has its own code as well."""
    return StripeError(
        402,
        DECLINE_MESSAGES.get(decline_code, "Your card was declined."),
        type="card_error",
        code=decline_code if decline_code == "authentication_required" else "card_declined",
        decline_code=decline_code,
        doc_url="https://stripe.com/docs/error-codes/card-declined",
        **extra,
    )
