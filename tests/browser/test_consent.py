"""Consent kept end to end in real browsers: the sender refers by emailed link,
the customer says yes, opens the confirmation email the job worker delivered
over SMTP, withdraws from its link, and the partner's page shows it."""

from __future__ import annotations

import re
import time

import pytest
from flask import Flask
from playwright.sync_api import expect
from sqlmodel import Session, select

from referral.customers.services import create_customer
from referral.referrals.models import Referral
from tests.support.browser import ACTION_TIMEOUT_MS
from tests.support.factories import PASSWORD, actor, agreed_partnership, make_business, make_user


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


def _link_in_mail(inbox, address: str, subject_part: str, path: str) -> str:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for message in inbox.to(address):
            if subject_part in message["Subject"]:
                text = message.get_body(("plain",)).get_content()
                link = re.search(rf"https?://\S+{path}\S+", text)
                assert link, text
                return link.group(0)
        time.sleep(0.1)
    raise AssertionError(f"no email to {address} about {subject_part!r}")


def test_a_customer_withdraws_from_the_confirmation_email_and_the_partner_sees_it(
    app: Flask, db: Session, browser, live_server, job_worker, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    inbox, _ = smtp_server
    hvac = make_business(db, name="Cool Air HVAC", trade="hvac", zip_code="78701")
    alex = actor(make_user(db, hvac, email="alex@coolair.example", name="Alex"), hvac)
    plumber = make_business(db, name="Drip Plumbing", trade="plumbing", zip_code="78704")
    blair = actor(make_user(db, plumber, email="blair@drip.example", name="Blair"), plumber)
    with app.app_context():
        agreed_partnership(db, alex, blair)
    create_customer(
        session=db,
        business_id=hvac.id,
        data={"name": "Ana Diaz", "email": "ana@example.com", "phone": "+15125550101"},
    )
    db.commit()
    alex_context, alex_page = _signed_in(browser, live_server, "alex@coolair.example")
    blair_context, blair_page = _signed_in(browser, live_server, "blair@drip.example")
    customer_context = browser.new_context()
    try:
        alex_page.goto("/referrals/new")
        alex_page.select_option("#partner_id", label="Drip Plumbing")
        alex_page.select_option("#customer_id", index=1)
        alex_page.fill("#need", "Water heater leaking in the garage")
        alex_page.select_option("#urgency", "this_week")
        alex_page.click("text=Send referral")
        alex_page.wait_for_selector("#referral-status")

        customer = customer_context.new_page()
        customer.goto(_link_in_mail(inbox, "ana@example.com", "asks before", "/consent/"))
        customer.click("text=Yes, share my details")
        customer.wait_for_selector("text=Thank you")
        expect(
            customer.locator("text=we have also emailed you a confirmation").first
        ).to_be_visible()

        withdraw = _link_in_mail(inbox, "ana@example.com", "You agreed", "/consent/withdraw/")
        customer.goto(withdraw)
        expect(customer.locator("#agreed-at").first).to_be_visible()
        customer.click("#withdraw")
        customer.wait_for_selector("#withdrawn")

        referral = db.exec(select(Referral)).one()
        blair_page.goto(f"/referrals/{referral.id}")
        hidden = blair_page.inner_text("#customer-hidden")
        assert "The customer withdrew their consent; their details were removed." in hidden
        assert "Ana Diaz" not in blair_page.content()
    finally:
        for context in (alex_context, blair_context, customer_context):
            context.close()
