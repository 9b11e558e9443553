"""The money path as two owners walk it in real browsers: the HVAC business
connects Stripe on the stand-in's hosted onboarding page, the plumber saves a
card on its hosted checkout page, and settling pays HVAC its 10% commission on
a $1,250 job, less the platform fee. The stand-in's signed webhooks reach the
app served on loopback, where a job worker applies them."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from flask import Flask
from playwright.sync_api import Locator, expect
from sqlmodel import Session

from tests.browser.conftest import ARTIFACTS
from tests.commissions.support import business, partner_up, percent, won_referral
from tests.factories import PASSWORD
from tests.support.live_server import LiveServer
from tests.support.stripe_standin import StripeStandIn, standin, stripe_standin  # noqa: F401

WEBHOOK_SECRET = "whsec_browser_money"
HVAC_EMAIL = "alex@coolair.example"
PLUMBER_EMAIL = "blair@drip.example"
GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"


@pytest.fixture
def app_overrides(stripe_standin: StripeStandIn) -> dict[str, object]:  # noqa: F811
    return {"STRIPE_API_BASE": stripe_standin.api_base, "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}


@pytest.fixture
def stripe(standin: StripeStandIn, live_server: LiveServer, job_worker) -> Iterator[StripeStandIn]:  # type: ignore[no-untyped-def]  # noqa: F811
    """The stand-in, fresh, posting its signed webhooks to the live app."""
    standin.send_webhooks_to(f"{live_server.url}/stripe/webhook", WEBHOOK_SECRET)
    yield standin
    standin.send_webhooks_to(None)


@pytest.fixture
def owed(app: Flask, db: Session) -> None:
    """Plumbing owes HVAC $125.00: 10% of a $1,250 job HVAC referred (no hold)."""
    with app.app_context():
        hvac = business(db, "Cool Air HVAC", "hvac", "78701", HVAC_EMAIL)
        plumber = business(db, "Drip Plumbing", "plumbing", "78704", PLUMBER_EMAIL)
        partner_up(db, plumber, hvac, a_pays=percent(1000), b_pays=percent(1000))
        won_referral(db, hvac, plumber, 125_000)


def log_in(page, email: str) -> None:  # type: ignore[no-untyped-def]
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("form button[type=submit]")
    expect(page.locator(".who")).to_be_visible()


def go_to_payments(page) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("link", name="Payments", exact=True).click()
    expect(page.get_by_role("heading", name="Payments", exact=True)).to_be_visible()


def reload_until(locator: Locator, *, timeout: float = 20.0) -> None:
    """Reload the page until `locator` shows: webhooks and jobs land in other
    threads, and the app's pages do not poll."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            expect(locator).to_be_visible(timeout=250)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            locator.page.reload()


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def connect_with_stripe(page, stripe: StripeStandIn) -> None:  # type: ignore[no-untyped-def]
    """On Payments, "Connect with Stripe", agree on the hosted onboarding page."""
    go_to_payments(page)
    getting_paid = page.locator("#getting-paid")
    getting_paid.get_by_role("button", name="Connect with Stripe").click()
    page.wait_for_url(f"{stripe.api_base}/_standin/onboarding/**")
    expect(page.get_by_role("heading", name="Set up your Express account")).to_be_visible()
    page.get_by_role("button", name="Agree and submit").click()
    page.wait_for_url("**/payments")
    expect(page.get_by_text("Back from Stripe.")).to_be_visible()
    reload_until(getting_paid.get_by_text("Ready."))
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
    page.wait_for_url("**/payments")
    expect(page.get_by_text("Card received.")).to_be_visible()
    paying = page.locator("#paying")
    reload_until(paying.get_by_text("Visa •••• 4242"))
    expect(paying.get_by_role("button", name="Replace card")).to_be_visible()


def test_hvac_connects_the_plumber_adds_a_card_and_settling_pays_the_commission(
    page, open_page, live_server, stripe, owed
) -> None:  # type: ignore[no-untyped-def]
    hvac = page
    log_in(hvac, HVAC_EMAIL)
    plumber = open_page()
    log_in(plumber, PLUMBER_EMAIL)

    connect_with_stripe(hvac, stripe)
    open_card_checkout(plumber, stripe)
    pay_with(plumber, GOOD_CARD)
    card_is_saved(plumber)
    shot(plumber, "money-card-saved")

    go_to_payments(hvac)
    hvac.get_by_role("link", name="All settlements").click()
    hvac.get_by_role("button", name="Settle now").click()
    expect(hvac.get_by_text("1 settlement(s) started.")).to_be_visible()
    row = hvac.locator("table.settlements tbody tr").filter(has_text="You receive")
    expect(row).to_have_count(1)
    row.get_by_role("link").click()
    hvac.wait_for_url("**/settlements/*")
    reload_until(hvac.locator("#settlement-status", has_text="paid"))
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
