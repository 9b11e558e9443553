"""A referral end to end in real browsers: the sender refers a customer, the
customer consents through the link in an email caught by a real SMTP server on
loopback, the partner accepts and reports the job won."""

from __future__ import annotations

import re
import time

import pytest
from flask import Flask
from playwright.sync_api import expect
from sqlmodel import Session

from referral.customers.services import create_customer
from tests.support.browser import ARTIFACTS, sign_in_page
from tests.support.factories import actor, agreed_partnership, make_business, make_user
from tests.support.pages import updates_in_place


@pytest.fixture
def app_overrides(smtp_server) -> dict[str, object]:  # type: ignore[no-untyped-def]
    _, port = smtp_server
    return {"MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port}


def wait_for_mail(inbox, address: str, subject_part: str, timeout: float = 15):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in inbox.to(address):
            if subject_part in message["Subject"]:
                return message
        time.sleep(0.1)
    raise AssertionError(f"no email to {address} about {subject_part!r}")


def test_refer_consent_by_email_accept_and_win(
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

    alex_context, alex_page = sign_in_page(browser, live_server, "alex@coolair.example")
    blair_context, blair_page = sign_in_page(browser, live_server, "blair@drip.example")
    customer_context = browser.new_context()
    try:
        alex_page.click("text=Sent")
        alex_page.click("text=Refer a customer")
        alex_page.select_option("#partner_id", label="Drip Plumbing")
        alex_page.select_option("#customer_id", index=1)
        alex_page.fill("#need", "Water heater leaking in the garage")
        alex_page.select_option("#urgency", "this_week")
        alex_page.click("text=Send referral")
        alex_page.wait_for_selector("#referral-status")
        assert "awaiting consent" in alex_page.inner_text("#referral-status")
        blair_page.click("text=Received")
        expect(blair_page.locator("tr", has_text="Water heater")).to_have_count(0)

        message = wait_for_mail(inbox, "ana@example.com", "asks before sharing")
        link = re.search(r"https?://\S+/consent/\S+", message.get_body(("plain",)).get_content())
        assert link
        customer = customer_context.new_page()
        customer.goto(link.group(0))
        expect(customer.locator("text=Drip Plumbing").first).to_be_visible()
        customer.click("text=Yes, share my details")
        customer.wait_for_selector("text=Thank you")
        ARTIFACTS.mkdir(exist_ok=True)
        customer.screenshot(path=str(ARTIFACTS / "consent-given.png"), full_page=True)
        # Both pages were open: each shows the answer by itself, without a reload.
        updates_in_place(alex_page.locator("#referral-status", has_text="sent"))
        row = blair_page.locator("tr", has_text="Water heater")
        updates_in_place(row)
        assert "ana@example.com" not in blair_page.content()
        row.locator("button:has-text('Accept')").click()
        blair_page.wait_for_selector("text=Referral accepted.")
        blair_page.click("text=Water heater")
        expect(blair_page.locator("text=ana@example.com").first).to_be_visible()
        blair_page.fill("#job_value", "4800")
        blair_page.fill("#job_date", "2026-11-20")
        blair_page.click("button:has-text('Won')")
        blair_page.wait_for_selector("text=Marked as won.")
        expect(blair_page.locator("text=$4,800.00").first).to_be_visible()

        alex_page.goto("/referrals/outbox")
        expect(alex_page.locator("td:has-text('won')").first).to_be_visible()
    finally:
        for context in (alex_context, blair_context, customer_context):
            context.close()
