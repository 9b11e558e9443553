"""The money path as two owners walk it in real browsers: the HVAC business
connects Stripe on the stand-in's hosted onboarding page, the plumber saves a
card on its hosted checkout page, and settling pays HVAC its 10% commission on
a $1,250 job, less the platform fee. The stand-in's signed webhooks reach the
app served on loopback, where a job worker applies them."""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import expect
from sqlmodel import Session

from tests.support.browser import HVAC_EMAIL, PLUMBER_EMAIL, log_in, shot
from tests.support.browser_stripe import app_overrides  # noqa: F401
from tests.support.factories import business, partner_up, percent, won_referral
from tests.support.pages import reload_until, updates_in_place
from tests.support.stripe_standin import StripeStandIn, standin, stripe_standin  # noqa: F401

GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"


@pytest.fixture
def owed(app: Flask, db: Session) -> None:
    """Plumbing owes HVAC $125.00: 10% of a $1,250 job HVAC referred (no hold)."""
    with app.app_context():
        hvac = business(db, "Cool Air HVAC", "hvac", "78701", HVAC_EMAIL)
        plumber = business(db, "Drip Plumbing", "plumbing", "78704", PLUMBER_EMAIL)
        partner_up(db, plumber, hvac, a_pays=percent(1000), b_pays=percent(1000))
        won_referral(db, hvac, plumber, 125_000)


def go_to_payments(page) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("link", name="Payments", exact=True).click()
    expect(page.get_by_role("heading", name="Payments", exact=True)).to_be_visible()


def connect_with_stripe(page, stripe: StripeStandIn) -> None:  # type: ignore[no-untyped-def]
    """On Payments, "Connect with Stripe", agree on the hosted onboarding page."""
    go_to_payments(page)
    getting_paid = page.locator("#getting-paid")
    getting_paid.get_by_role("button", name="Connect with Stripe").click()
    page.wait_for_url(f"{stripe.api_base}/_standin/onboarding/**")
    expect(page.get_by_role("heading", name="Set up your Express account")).to_be_visible()
    page.get_by_role("button", name="Agree and submit").click()
    page.wait_for_url("**/payments?waiting=connect")
    updates_in_place(getting_paid.get_by_text("Ready."))
    expect(getting_paid.get_by_role("button", name="Continue Stripe onboarding")).to_have_count(0)


def open_card_checkout(page, stripe: StripeStandIn) -> None:  # type: ignore[no-untyped-def]
    """On Payments, "Add a card": the stand-in's hosted checkout page opens."""
    go_to_payments(page)
    page.locator("#paying").get_by_role("button", name="Add a card").click()
    page.wait_for_url(f"{stripe.api_base}/_standin/checkout/**")
    expect(page.get_by_role("heading", name="Save a card")).to_be_visible()


def pay_with(page, card: str) -> None:  # type: ignore[no-untyped-def]
    page.locator(f"input[name=card][value='{card}']").check()
    page.get_by_role("button", name="Save card").click()


def card_is_saved(page) -> None:  # type: ignore[no-untyped-def]
    """Back on the app's payments page, the card shows once Stripe confirms it."""
    page.wait_for_url("**/payments?waiting=card")
    paying = page.locator("#paying")
    updates_in_place(paying.get_by_text("Visa •••• 4242"))
    expect(paying.get_by_role("button", name="Replace card")).to_be_visible()


def hvac_connected_plumber_pays_with(page, open_page, stripe: StripeStandIn, card: str):  # type: ignore[no-untyped-def]
    """HVAC (on `page`) connects Stripe; the plumber (a second page) saves `card`."""
    hvac = page
    log_in(hvac, HVAC_EMAIL)
    plumber = open_page()
    log_in(plumber, PLUMBER_EMAIL)
    connect_with_stripe(hvac, stripe)
    open_card_checkout(plumber, stripe)
    pay_with(plumber, card)
    return hvac, plumber


def settle_now(page) -> None:  # type: ignore[no-untyped-def]
    """From Payments, "All settlements", "Settle now"."""
    go_to_payments(page)
    page.get_by_role("link", name="All settlements").click()
    page.get_by_role("button", name="Settle now").click()
    expect(page.get_by_text("1 settlement(s) started.")).to_be_visible()


def test_hvac_connects_the_plumber_adds_a_card_and_settling_pays_the_commission(
    page, open_page, live_server, stripe, owed
) -> None:  # type: ignore[no-untyped-def]
    hvac, plumber = hvac_connected_plumber_pays_with(page, open_page, stripe, GOOD_CARD)
    card_is_saved(plumber)
    shot(plumber, "money-card-saved")

    settle_now(hvac)
    row = hvac.locator("table.settlements tbody tr").filter(has_text="You receive")
    expect(row).to_have_count(1)
    row.get_by_role("link").click()
    hvac.wait_for_url("**/settlements/*")
    updates_in_place(hvac.locator("#settlement-status", has_text="paid"))
    expect(hvac.locator("#settlement-status")).to_have_text("paid")
    facts = hvac.locator("dl.facts")
    for label, amount in [
        ("Net charged to Drip Plumbing", "$125.00"),
        ("Platform fee", "$6.25"),
        ("Paid to Cool Air HVAC", "$118.75"),
    ]:
        expect(facts.locator(f"dt:text-is('{label}') + dd")).to_have_text(amount)
    shot(hvac, "money-settlement-paid")

    hvac.get_by_role("link", name="Commissions", exact=True).click()
    earned = hvac.locator("#commissions-earned tbody tr").filter(has_text="Drip Plumbing")
    expect(earned).to_have_count(1)
    expect(earned.locator("td").nth(4)).to_have_text("$125.00")
    expect(earned.locator("td").nth(5)).to_contain_text("paid")
    expect(hvac.locator("#commissions-earned")).to_contain_text("Settled: $125.00")

    # The plumber sees the same settlement, paid, from the paying side.
    go_to_payments(plumber)
    paid = plumber.locator("table.settlements tbody tr").filter(has_text="You pay")
    expect(paid).to_contain_text("$125.00")
    expect(paid.locator("td").last).to_have_text("paid")


def test_a_declined_card_on_checkout_can_be_replaced_by_one_that_works(
    page, live_server, stripe, owed
) -> None:  # type: ignore[no-untyped-def]
    plumber = page
    log_in(plumber, PLUMBER_EMAIL)
    open_card_checkout(plumber, stripe)

    pay_with(plumber, DECLINED_CARD)
    expect(plumber.get_by_role("alert")).to_have_text("Your card was declined.")
    expect(plumber.get_by_role("heading", name="Save a card")).to_be_visible()
    shot(plumber, "money-card-declined")

    pay_with(plumber, GOOD_CARD)
    card_is_saved(plumber)
    expect(plumber.locator("#paying")).not_to_contain_text("0002")


AUTHENTICATION_CARD = "4000002760003184"


def test_a_card_that_asks_for_authentication_is_confirmed_by_the_debtor_on_stripe(
    page, open_page, live_server, stripe, owed
) -> None:  # type: ignore[no-untyped-def]
    hvac, plumber = hvac_connected_plumber_pays_with(page, open_page, stripe, AUTHENTICATION_CARD)
    plumber.wait_for_url("**/payments?waiting=card")
    updates_in_place(plumber.locator("#paying").get_by_text("Visa •••• 3184"))

    settle_now(hvac)

    # Off-session the bank refuses without the plumber: the payments page asks them.
    go_to_payments(plumber)
    banner = plumber.locator("#confirm-payment")
    reload_until(banner.get_by_role("button", name="Confirm payment on Stripe"))
    expect(banner).to_contain_text("$125.00")
    shot(plumber, "money-confirm-payment")
    banner.get_by_role("button", name="Confirm payment on Stripe").click()
    plumber.wait_for_url(f"{stripe.api_base}/_standin/checkout/**")
    expect(plumber.get_by_role("heading", name="Pay")).to_be_visible()
    plumber.locator(f"input[name=card][value='{AUTHENTICATION_CARD}']").check()
    plumber.get_by_role("button", name="Pay").click()

    plumber.wait_for_url("**/payments")
    expect(plumber.get_by_text("Payment received.")).to_be_visible()
    paid = plumber.locator("table.settlements tbody tr").filter(has_text="You pay")
    reload_until(paid.locator("td").last.get_by_text("paid", exact=True))
    expect(plumber.locator("#confirm-payment")).to_have_count(0)
    assert (
        len([i for i in stripe.client().v1.payment_intents.list().data if i.status == "succeeded"])
        == 1
    )
