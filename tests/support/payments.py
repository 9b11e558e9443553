"""Businesses set up on the Stripe stand-in as they would be after its hosted
pages: one onboarded to be paid, one with a saved card to pay."""

from __future__ import annotations

from sqlmodel import Session

from referral.payments.models import BillingProfile, ConnectedAccount
from tests.support.stripe_standin import StripeStandIn

TEST_CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}


def connect_onboarded_account(db: Session, standin: StripeStandIn, business_id: int) -> str:
    """An Express account on the stand-in, onboarded, recorded as the business's
    (flushed, not committed). Returns its Stripe id."""
    account = standin.client().v1.accounts.create(params={"type": "express"})
    standin.complete_onboarding(account.id)
    db.add(
        ConnectedAccount(
            business_id=business_id,
            stripe_account_id=account.id,
            charges_enabled=True,
            payouts_enabled=True,
            details_submitted=True,
        )
    )
    db.flush()
    return str(account.id)


def save_card(db: Session, standin: StripeStandIn, business_id: int, email: str) -> BillingProfile:
    """A stand-in customer with a Visa test card attached, recorded as the
    business's saved card (flushed, not committed)."""
    client = standin.client()
    customer = client.v1.customers.create(params={"email": email})
    method = client.v1.payment_methods.create(params={"type": "card", "card": TEST_CARD})
    client.v1.payment_methods.attach(method.id, params={"customer": customer.id})
    billing = BillingProfile(
        business_id=business_id,
        stripe_customer_id=customer.id,
        payment_method_id=method.id,
        card_brand="visa",
        card_last4="4242",
    )
    db.add(billing)
    db.flush()
    return billing
