"""After sign-up the home page lists the first steps towards a paid referral;
each ticks itself off when done, and the list goes away once all are done."""

from __future__ import annotations

import re

from flask import Flask
from sqlmodel import Session

from referral.auth.models import User
from referral.businesses.actor import Actor
from referral.customers.services import create_customer
from referral.db import utcnow
from referral.payments.models import BillingProfile, ConnectedAccount
from tests.support.factories import business, make_business, make_user, partner_up, percent, sign_in

STEP = re.compile(r'<li class="(done|todo)" id="step-(\w+)"')


def _steps(page: str) -> dict[str, str]:
    """Each step's key and whether it is done, in the page's order."""
    return {key: state for state, key in STEP.findall(page)}


def test_the_checklist_ticks_itself_off_and_then_disappears(app: Flask, db: Session) -> None:
    newcomer = make_business(db, name="Fresh Gutters", trade="roofing", zip_code="78745")
    owner = make_user(db, newcomer, email="fresh@gutters.example", verified=False)
    browser = sign_in(app, owner)

    assert _steps(browser.get("/").get_data(as_text=True)) == {
        "verify": "todo",
        "profile": "todo",
        "partner": "todo",
        "connect": "todo",
        "card": "todo",
        "customers": "todo",
    }

    owner.email_verified_at = utcnow()
    newcomer.description, newcomer.phone = "Gutters and roofs.", "+15125550100"
    db.add_all([owner, newcomer])
    with app.app_context():
        create_customer(
            session=db, business_id=newcomer.id, data={"name": "Kim", "email": "k@x.example"}
        )
    db.commit()
    steps = _steps(browser.get("/").get_data(as_text=True))
    assert [k for k, v in steps.items() if v == "done"] == ["verify", "profile", "customers"]

    partner = business(db, "Partner Plumbing", "plumbing", "78704", "p@plumbing.example")
    with app.app_context():
        me = Actor.of_user(db.get(User, owner.id), newcomer)
        partner_up(db, me, partner, a_pays=percent(1000), b_pays=percent(1000))
    db.add_all(
        [
            ConnectedAccount(
                business_id=newcomer.id,
                stripe_account_id="acct_fresh",
                details_submitted=True,
                charges_enabled=True,
                payouts_enabled=True,
            ),
            BillingProfile(
                business_id=newcomer.id,
                stripe_customer_id="cus_fresh",
                payment_method_id="pm_fresh",
                card_brand="visa",
                card_last4="4242",
            ),
        ]
    )
    db.commit()
    page = browser.get("/").get_data(as_text=True)
    assert "First steps" not in page and _steps(page) == {}
