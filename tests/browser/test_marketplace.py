"""The lead marketplace in real browsers: the HVAC owner lists a customer's
plumbing need, the customer agrees on the consent page, and a plumber nearby
buys it on the stand-in's Checkout page and reads the customer's details."""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import expect
from sqlmodel import Session

from referral.customers.services import create_customer
from tests.support.browser import HVAC_EMAIL, PLUMBER_EMAIL, log_in, shot
from tests.support.browser_stripe import app_overrides  # noqa: F401
from tests.support.factories import business
from tests.support.mail import queued_emails
from tests.support.pages import updates_in_place
from tests.support.payments import connect_onboarded_account
from tests.support.stripe_standin import StripeStandIn, standin, stripe_standin  # noqa: F401


@pytest.fixture
def sellers(app: Flask, db: Session, stripe: StripeStandIn):  # type: ignore[no-untyped-def]  # noqa: F811
    """HVAC, ready to be paid on the stand-in, with a customer who needs a plumber."""
    with app.app_context():
        hvac = business(db, "Cool Air HVAC", "hvac", "78701", HVAC_EMAIL)
        business(db, "Drip Plumbing", "plumbing", "78704", PLUMBER_EMAIL)
        create_customer(
            session=db,
            business_id=hvac.business_id,
            data={
                "name": "Ana Diaz",
                "email": "ana@example.com",
                "phone": "+15125550101",
                "zip_code": "78704",
            },
        )
    connect_onboarded_account(db, stripe, hvac.business_id)
    db.commit()


def test_a_lead_is_listed_agreed_to_and_bought_on_checkout(
    page,
    open_page,
    live_server,
    stripe,  # noqa: F811
    sellers,
    db,
) -> None:  # type: ignore[no-untyped-def]
    seller = page
    log_in(seller, HVAC_EMAIL)
    seller.get_by_role("link", name="Leads", exact=True).click()
    seller.get_by_role("link", name="Sell a lead").click()
    seller.select_option("#customer_id", label="Ana Diaz (78704)")
    seller.select_option("#trade_id", label="Plumbing")
    seller.fill("#need", "Water heater leaking in the garage")
    expect(seller.locator("#zip_code")).to_have_value("78704")  # the customer's, filled in
    seller.fill("#price", "45")
    seller.get_by_role("button", name="List the lead").click()
    expect(seller.locator("#lead-status")).to_have_text("awaiting consent")

    [email] = [m for m in queued_emails(db) if m.to == "ana@example.com"]
    customer = open_page()
    customer.goto(email.link("/consent/"))
    expect(customer.locator("#consent-text")).to_contain_text("Referral marketplace")
    customer.get_by_role("button", name="Yes, share my details").click()
    expect(customer.get_by_role("heading", name="Thank you")).to_be_visible()
    updates_in_place(seller.locator("#lead-status", has_text="live"))

    buyer = open_page()
    log_in(buyer, PLUMBER_EMAIL)
    buyer.get_by_role("link", name="Leads", exact=True).click()
    row = buyer.locator("#market tbody tr").filter(has_text="Water heater leaking")
    expect(row).to_contain_text("$45.00")
    expect(buyer.locator("#market")).not_to_contain_text("Ana")
    row.get_by_role("link", name="View").click()
    buyer.get_by_role("button", name="Pay on Stripe Checkout").click()
    buyer.wait_for_url(f"{stripe.api_base}/_standin/checkout/**")
    buyer.get_by_role("button", name="Pay").click()
    buyer.wait_for_url("**/leads/purchases/**")
    updates_in_place(buyer.locator("#contact"))
    expect(buyer.locator("#contact")).to_contain_text("ana@example.com")
    shot(buyer, "marketplace-bought")
