"""The app's pages as a signed-in business sees them, for the tests that walk
every page in a browser (layout, accessibility)."""

from __future__ import annotations

import time

from flask import Flask
from playwright.sync_api import Locator, expect
from sqlmodel import Session

from referral.customers.services import create_customer
from tests.support.factories import PASSWORD
from tests.support.routes import PUBLIC, all_routes, fillings
from tests.support.sweep_world import World, build_world

LONG_NAME = "Supercalifragilistic" * 6  # 120 characters, no space

# The JSON statuses waiting pages poll (referral/live.py): no page, no stored text.
LIVE_STATUS = {
    "payments.status": "the payments page's, after a return from Stripe",
    "referrals.inbox_status": "the inbox's",
    "referrals.status": "a referral's, while the customer is asked",
    "leads.status": "a lead's, while the customer is asked",
    "leads.purchase_status": "a purchase's, while Stripe confirms the payment",
    "settlements.status": "a settlement's, while it is charged",
    "campaigns.status": "a campaign's progress, while it is sent",
}
# Signed-in GET routes that answer with a file or a redirect, not a page.
NOT_PAGES = {
    *LIVE_STATUS,
    "analytics.export",
    "settlements.statement_csv",
    "customers.export",
    "referrals.export",
    "commissions.export",
    "settlements.export",
    "auth.resend_verification",
    "payments.card_saved",
    "payments.connect_return",
    "payments.connect_refresh",
    "settlements.settlement_confirmed",
    "customers.import_outcomes",
    "customers.import_status",
}


def signed_in_pages(app: Flask, world: World) -> list[str]:
    """The URL of every signed-in page, filled with business B's objects
    (each referral, lead, purchase... of B's world)."""
    urls = ["/"]
    for route in all_routes(app):
        if route.method != "GET" or route.is_api or route.endpoint in PUBLIC:
            continue
        if route.endpoint in NOT_PAGES:
            continue
        urls += [url for _, url in fillings(route, world)]
    return urls


def page_world(app: Flask, db: Session, *, long_names: bool = False) -> World:
    """The sweeps' world, with B's owner the operator too (so the operator's
    pages are B's owner's pages); with `long_names`, a customer of B and B's
    prospect D get names with no space to break at."""
    world = build_world(app, db)
    world.b.owner.is_operator = True
    db.add(world.b.owner)
    if long_names:
        with app.app_context():
            create_customer(
                session=db,
                business_id=world.b.business_id,
                data={"name": LONG_NAME, "email": "long@example.com", "zip_code": "78704"},
            )
        world.d.business.name = LONG_NAME[:100]
        db.add(world.d.business)
    db.commit()
    return world


def log_in(page, email: str) -> None:  # type: ignore[no-untyped-def]
    """Sign a Playwright page in through the login form."""
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_selector(".who", state="attached")


def reload_until(locator: Locator, *, timeout: float = 20.0) -> None:
    """Reload the page until `locator` shows, for a state no page polls for
    (a settlement refused off-session, seen by the debtor on their next visit)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            expect(locator).to_be_visible(timeout=250)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            locator.page.reload()


def updates_in_place(locator: Locator, *, timeout: float = 15.0) -> None:
    """`locator` shows without a reload: webhooks and jobs land in other
    threads, and the waiting page polls its status (static/js/live.js) and
    puts its new content in place. A mark set on the page now survives only
    if the browser did not load another page."""
    locator.page.evaluate("window.stillTheSamePage = true")
    expect(locator).to_be_visible(timeout=timeout * 1000)
    assert locator.page.evaluate("window.stillTheSamePage === true"), "the page was reloaded"
