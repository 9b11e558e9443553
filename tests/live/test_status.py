"""Pages that wait for Stripe or the worker say so, with a reload link for a
browser without script, and answer a small JSON status that static/js/live.js
polls (referral/live.py): its `state` changes when the page would, and `done`
says there is nothing more to wait for."""

from __future__ import annotations

from flask import Flask
from sqlmodel import Session

from referral.payments.models import BillingProfile, ConnectedAccount
from tests.support.factories import SignedIn


def test_back_from_card_checkout_the_payments_page_waits_for_stripe(
    app: Flask, db: Session, owner_a: SignedIn
) -> None:
    browser = owner_a.client
    back = browser.get("/payments/card/saved?session_id=cs_test_1")
    assert back.status_code == 302 and back.headers["Location"] == "/payments?waiting=card"

    page = browser.get("/payments?waiting=card").get_data(as_text=True)
    assert "Waiting for Stripe to confirm your card" in page
    assert 'data-live="/payments/status?waiting=card"' in page
    assert 'href="/payments?waiting=card">Reload to check again' in page
    waiting = browser.get("/payments/status?waiting=card")
    assert waiting.headers["Cache-Control"] == "no-store"
    assert waiting.json["done"] is False

    db.add(
        BillingProfile(
            business_id=owner_a.business.id,
            stripe_customer_id="cus_live",
            payment_method_id="pm_live",
            card_brand="visa",
            card_last4="4242",
        )
    )
    db.commit()
    saved = browser.get("/payments/status?waiting=card").json
    assert saved["done"] is True and saved["state"] != waiting.json["state"]
    page = browser.get("/payments?waiting=card").get_data(as_text=True)
    assert "Waiting for Stripe" not in page and "•••• 4242" in page


def test_back_from_onboarding_the_page_waits_until_the_account_can_be_paid(
    app: Flask, db: Session, owner_a: SignedIn
) -> None:
    browser = owner_a.client
    assert browser.get("/payments/connect/return").headers["Location"] == (
        "/payments?waiting=connect"
    )
    account = ConnectedAccount(
        business_id=owner_a.business.id,
        stripe_account_id="acct_live",
        requirements_due=["individual.dob.day"],
    )
    db.add(account)
    db.commit()
    page = browser.get("/payments?waiting=connect").get_data(as_text=True)
    assert "Waiting for Stripe to confirm your account" in page
    assert "Not ready yet" not in page  # not before Stripe has had its say
    before = browser.get("/payments/status?waiting=connect").json
    assert before["done"] is False

    account.details_submitted = account.charges_enabled = account.payouts_enabled = True
    account.requirements_due = []
    db.add(account)
    db.commit()
    after = browser.get("/payments/status?waiting=connect").json
    assert after == {"state": after["state"], "done": True} and after["state"] != before["state"]
    assert "Ready." in browser.get("/payments?waiting=connect").get_data(as_text=True)


def test_nothing_waits_on_the_payments_page_without_a_return_from_stripe(
    owner_a: SignedIn,
) -> None:
    page = owner_a.client.get("/payments").get_data(as_text=True)
    assert "data-live" not in page
    assert owner_a.client.get("/payments/status").json["done"] is True
