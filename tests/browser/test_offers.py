"""A partner's offer end to end in real browsers: the plumber publishes it on
its Offers page, the HVAC business sees it among its partners' offers, the
customer opens the personal link on a phone and says yes, receives the consent
confirmation the job worker delivered over SMTP, and the plumber accepts,
wins the job, and the HVAC business's commission appears.

(The email carrying the link is a campaign's: campaigns call
referral.offers.links.offer_links, as this test does.)"""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from flask import Flask
from playwright.sync_api import expect
from sqlmodel import Session, select

from referral.customers.services import create_customer
from referral.offers.links import Source, offer_links
from referral.offers.models import Offer, SourceKind
from referral.referrals.models import Referral
from tests.support.browser import ACTION_TIMEOUT_MS
from tests.support.factories import PASSWORD, actor, agreed_partnership, make_business, make_user

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def app_overrides(smtp_server) -> dict[str, object]:  # type: ignore[no-untyped-def]
    _, port = smtp_server
    return {"MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port}


def _signed_in(browser, live_server, email: str):  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    page = context.new_page()
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(live_server.url + "/")
    return context, page


def _mail(inbox, address: str, subject_part: str) -> str:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for message in inbox.to(address):
            if subject_part in message["Subject"]:
                return str(message.get_body(("plain",)).get_content())
        time.sleep(0.1)
    raise AssertionError(f"no email to {address} about {subject_part!r}")


def test_a_customer_says_yes_to_a_partners_offer_and_the_partner_wins_the_job(
    app: Flask, db: Session, browser, live_server, job_worker, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    inbox, _ = smtp_server
    hvac = make_business(db, name="Cool Air HVAC", trade="hvac", zip_code="78701")
    alex = actor(make_user(db, hvac, email="alex@coolair.example", name="Alex"), hvac)
    plumber = make_business(db, name="Drip Plumbing", trade="plumbing", zip_code="78704")
    blair = actor(make_user(db, plumber, email="blair@drip.example", name="Blair"), plumber)
    with app.app_context():
        agreed_partnership(db, alex, blair)
    ana = create_customer(
        session=db,
        business_id=hvac.id,  # type: ignore[arg-type]
        data={"name": "Ana Diaz", "email": "ana@example.com", "zip_code": "78702"},
    )
    db.commit()
    blair_context, blair_page = _signed_in(browser, live_server, "blair@drip.example")
    alex_context, alex_page = _signed_in(browser, live_server, "alex@coolair.example")
    customer_context = browser.new_context(viewport=PHONE)
    customer_context.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        blair_page.goto("/offers/new")
        blair_page.select_option("#kind", "partner")
        blair_page.fill("#title", "First drain cleaning")
        blair_page.fill("#benefit", "10% off a first drain cleaning")
        blair_page.fill("#valid_from", dt.date.today().isoformat())
        blair_page.fill("#radius_miles", "25")
        blair_page.click("form.card button[type=submit]")
        blair_page.wait_for_selector("text=Offer published.")

        alex_page.goto("/offers")
        seen = alex_page.locator("#partner-offers").inner_text()
        assert "Drip Plumbing" in seen and "10% off a first drain cleaning" in seen

        offer = db.exec(select(Offer)).one()
        with app.app_context():
            (link,) = offer_links(
                db, offers=[offer], customer=ana, source=Source(SourceKind.CAMPAIGN, 1)
            )
        customer = customer_context.new_page()
        customer.goto(link.url.replace(app.config["BASE_URL"], live_server.url))
        expect(customer.locator("#consent-text").first).to_be_visible()
        customer.click("text=Yes, have Drip Plumbing contact me")
        customer.wait_for_selector("#answered")
        width = customer.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"]

        confirmation = _mail(inbox, "ana@example.com", "You agreed")
        assert re.search(r"/consent/withdraw/\S+", confirmation)

        referral = db.exec(select(Referral)).one()
        blair_page.goto("/referrals/inbox")
        row = blair_page.locator("tr", has_text="First drain cleaning")
        row.locator("button:has-text('Accept')").click()
        blair_page.wait_for_selector("text=Referral accepted.")
        blair_page.goto(f"/referrals/{referral.id}")
        blair_page.fill("#job_value", "800")
        blair_page.fill("#job_date", dt.date.today().isoformat())
        blair_page.click("button:has-text('Won')")
        blair_page.wait_for_selector("text=Marked as won.")

        alex_page.goto("/commissions")
        assert "$80.00" in alex_page.content()
    finally:
        for context in (alex_context, blair_context, customer_context):
            context.close()
