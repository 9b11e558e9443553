"""A business going through the payments pages and the Stripe stand-in's hosted
pages, as its owner would, and waiting for the webhooks to be applied."""

from __future__ import annotations

import re

from flask import Flask
from sqlmodel import Session, select

from referral.auth.models import User
from referral.payments.models import BillingProfile, ConnectedAccount
from tests.support.factories import sign_in
from tests.support.payments import eventually
from tests.support.stripe_standin import StripeStandIn


def browser_of(app: Flask, db: Session, who):  # type: ignore[no-untyped-def]
    return sign_in(app, db.get(User, who.user_id))


def fresh(db: Session, model, **where):  # type: ignore[no-untyped-def]
    db.expire_all()
    query = select(model)
    for key, value in where.items():
        query = query.where(getattr(model, key) == value)
    return db.exec(query).first()


def connect_stripe(app, db, standin: StripeStandIn, who) -> ConnectedAccount:  # type: ignore[no-untyped-def]
    """The business clicks "Connect with Stripe" and finishes onboarding."""
    response = browser_of(app, db, who).post_form("/payments/connect", {}, page="/payments")
    assert response.status_code == 303
    assert response.headers["Location"].startswith(f"{standin.api_base}/_standin/onboarding/")
    account = fresh(db, ConnectedAccount, business_id=who.business_id)
    assert account is not None and not account.payouts_enabled
    standin.complete_onboarding(account.stripe_account_id)
    return eventually(
        lambda: (
            (a := fresh(db, ConnectedAccount, business_id=who.business_id)).payouts_enabled and a
        ),
        what="account.updated applied",
    )


def save_card(
    app, db, standin: StripeStandIn, who, card: str = "4242424242424242"
) -> BillingProfile:  # type: ignore[no-untyped-def]
    response = browser_of(app, db, who).post_form("/payments/card", {}, page="/payments")
    assert response.status_code == 303
    session_id = re.search(r"/_standin/checkout/([^/?#]+)", response.headers["Location"]).group(1)
    assert standin.complete_checkout(session_id, card).status_code == 200
    return eventually(
        lambda: (
            (b := fresh(db, BillingProfile, business_id=who.business_id)).payment_method_id and b
        ),
        what="checkout.session.completed applied",
    )
