"""A campaign end to end in real browsers, with the real job worker and a real
SMTP server on loopback: the plumber publishes an offer to its partners'
customers; its partner, an HVAC business, composes a campaign to its past
customers with that offer, counts who receives it, saves and sends it, and
watches its progress update itself; the customer who agreed to marketing
email receives it, opens the personal link in it, and says yes to the plumber;
the plumber finds the referral in its inbox, accepts it and wins the job; the
HVAC business's commission appears, and the campaign shows what it brought."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import Flask
from playwright.sync_api import expect
from sqlmodel import Session

from referral.campaigns.followups import keep_follow_ups_queued
from referral.customers import marketing
from referral.customers.models import PermissionSource
from referral.customers.services import add_job, create_customer
from referral.db import utcnow
from referral.localtime import local_date, zone
from tests.support.browser import HVAC_EMAIL, PLUMBER_EMAIL, log_in
from tests.support.factories import actor, agreed_partnership, make_business, make_user
from tests.support.jobs import run_jobs
from tests.support.live_server import worker_thread
from tests.support.offers import publish
from tests.support.pages import updates_in_place
from tests.support.smtp import Inbox

ADDRESS = "1200 Congress Ave, Austin, TX 78701"
PHONE = {"width": 390, "height": 844}
WORKER = 30_000  # ms: long enough for the job worker on a loaded machine
OFFER_LINK = re.compile(r"https?://\S+/o/\S+")


@pytest.fixture
def app_overrides(smtp_server) -> dict[str, object]:  # type: ignore[no-untyped-def]
    _, port = smtp_server
    return {"MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port}


def past_customer(
    db: Session,
    business_id: int,
    name: str,
    email: str,
    *,
    permitted: bool,
    job_date: dt.date | None = None,
) -> None:
    """A customer of an HVAC job (last year unless `job_date`), who agreed to
    marketing email or not."""
    customer = create_customer(
        session=db,
        business_id=business_id,
        data={"name": name, "email": email, "zip_code": "78702"},
    )
    add_job(
        session=db,
        customer=customer,
        data={
            "job_date": job_date or dt.date.today() - dt.timedelta(days=365),
            "description": "AC tune-up",
            "amount_cents": 25_000,
            "trade": "hvac",
        },
    )
    if permitted:
        marketing.grant_permission(db, customer=customer, source=PermissionSource.CUSTOMER_FORM)
    db.commit()


def test_a_campaign_with_a_partners_offer_brings_a_won_referral_and_a_commission(  # type: ignore[no-untyped-def]
    app: Flask, db: Session, page, open_page, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp_server
    hvac = make_business(
        db, name="Cool Air HVAC", trade="hvac", zip_code="78701", postal_address=ADDRESS
    )
    alex = actor(make_user(db, hvac, email=HVAC_EMAIL, name="Alex"), hvac)
    plumber = make_business(db, name="Drip Plumbing", trade="plumbing", zip_code="78704")
    blair = actor(make_user(db, plumber, email=PLUMBER_EMAIL, name="Blair"), plumber)
    with app.app_context():
        agreed_partnership(db, alex, blair)  # 10% commission each way
        past_customer(db, hvac.id or 0, "Ana Diaz", "ana@example.com", permitted=True)
        past_customer(db, hvac.id or 0, "Bo Reyes", "bo@example.com", permitted=False)

    # The plumber publishes an offer to its partners' customers.
    blair_page = open_page()
    log_in(blair_page, PLUMBER_EMAIL)
    blair_page.goto("/offers")
    blair_page.get_by_role("link", name="Publish an offer").click()
    blair_page.select_option("#kind", "partner")
    blair_page.fill("#title", "First drain cleaning")
    blair_page.fill("#benefit", "10% off a first drain cleaning")
    blair_page.fill("#valid_from", (dt.date.today() - dt.timedelta(days=1)).isoformat())
    blair_page.get_by_role("button", name="Publish").click()
    expect(blair_page.get_by_text("Offer published.")).to_be_visible()
    expect(blair_page.locator("#my-offers")).to_contain_text("First drain cleaning")

    # Its partner composes a campaign to its past HVAC customers with that offer.
    log_in(page, HVAC_EMAIL)
    page.goto("/campaigns")
    page.get_by_role("link", name="New campaign").click()
    page.check("input[name=trades][value=hvac]")
    page.fill("#name", "Spring plumbing offer")
    page.fill("#subject", "A plumbing offer for {first_name}")
    page.fill("#body", "Hello {first_name},\n\nOur partner Drip Plumbing has an offer for you.")
    page.get_by_label("First drain cleaning: 10% off a first drain cleaning").check()
    page.click("#preview")
    expect(page.locator("#permitted-count")).to_have_text("1")
    expect(page.locator("#audience")).to_contain_text("ana@example.com")
    expect(page.locator("#audience")).not_to_contain_text("bo@example.com")
    page.click("#save")
    expect(page.locator("#campaign-status")).to_have_text("draft")
    expect(page.locator("#campaign-offers")).to_contain_text("Drip Plumbing")

    # Sent while no worker runs yet: the page shows the email queued, then,
    # once the worker sends it, updates itself to sent.
    page.click("#send")
    expect(page.get_by_text("1 email queued.")).to_be_visible()
    expect(page.locator("#campaign-status")).to_have_text("sending")
    expect(page.locator("#stat-queued")).to_have_text("1")
    with worker_thread(app, poll_interval=0.1):
        updates_in_place(page.locator("#campaign-status", has_text="sent"), timeout=WORKER / 1000)
        expect(page.locator("#stat-sent")).to_have_text("1")
        expect(page.locator("#stat-queued")).to_have_text("0")

        # The SMTP server received it once the page says sent: Ana's only.
        assert inbox.to("bo@example.com") == []
        [message] = inbox.to("ana@example.com")
        assert message["Subject"] == "A plumbing offer for Ana"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        assert "First drain cleaning: 10% off a first drain cleaning" in text
        assert ADDRESS in text
        link = OFFER_LINK.search(text)
        assert link, text

        # The plumber's inbox is open when the customer says yes.
        blair_page.goto("/referrals/inbox")
        expect(blair_page.locator("#inbox")).not_to_contain_text("First drain cleaning")

        customer = open_page()
        customer.set_viewport_size(PHONE)
        customer.goto(link.group(0))
        expect(
            customer.get_by_text("from Drip Plumbing, a partner of Cool Air HVAC")
        ).to_be_visible()
        expect(customer.locator("#consent-text").first).to_be_visible()
        customer.get_by_role("button", name="Yes, have Drip Plumbing contact me").click()
        expect(customer.locator("#answered")).to_contain_text("Drip Plumbing, who will contact you")
        assert customer.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

        row = blair_page.locator("#inbox tr", has_text="First drain cleaning")
        updates_in_place(row, timeout=WORKER / 1000)
        assert "ana@example.com" not in row.inner_text()
        row.get_by_role("button", name="Accept").click()
        expect(blair_page.get_by_text("Referral accepted.")).to_be_visible()
        blair_page.get_by_role("link", name=re.compile("First drain cleaning")).click()
        expect(blair_page.get_by_text("ana@example.com")).to_be_visible()
        blair_page.fill("#job_value", "800")
        blair_page.fill("#job_date", dt.date.today().isoformat())
        blair_page.get_by_role("button", name="Won").click()
        expect(blair_page.get_by_text("Marked as won.")).to_be_visible()

        # The HVAC business earns its 10% and sees what the campaign brought.
        page.goto("/commissions")
        expect(page.locator("main")).to_contain_text("$80.00")
        page.goto("/campaigns")
        page.get_by_role("link", name="Spring plumbing offer").click()
        expect(page.locator("#result-said-yes")).to_have_text("1")
        expect(page.locator("#result-accepted")).to_have_text("1")
        expect(page.locator("#result-won")).to_have_text("1")
        expect(page.locator("#result-revenue")).to_have_text("$800.00")
        expect(page.locator("#result-own-revenue")).to_have_text("$0.00")
        expect(page.locator("#result-commission")).to_have_text("$80.00")

        # The campaign page fits a phone.
        page.set_viewport_size(PHONE)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_a_follow_up_rule_composed_in_the_browser_emails_the_customer_whose_job_is_due(  # type: ignore[no-untyped-def]
    app: Flask, db: Session, page, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp_server
    hvac = make_business(
        db, name="Cool Air HVAC", trade="hvac", zip_code="78701", postal_address=ADDRESS
    )
    alex = actor(make_user(db, hvac, email=HVAC_EMAIL, name="Alex"), hvac)
    # A job eight days ago in the business's zone: a 7-day rule's moment came
    # yesterday or today whatever the hour, within the lookback.
    eight_days_ago = local_date(utcnow(), zone(hvac.zone_name)) - dt.timedelta(days=8)
    with app.app_context():
        publish(db, alex, kind="own", title="Comfort plan", benefit="Two tune-ups a year")
        for name, email, permitted in (
            ("Ana Diaz", "ana@example.com", True),
            ("Bo Reyes", "bo@example.com", False),
        ):
            past_customer(
                db, hvac.id or 0, name, email, permitted=permitted, job_date=eight_days_ago
            )

    # The owner composes the rule, previews it on a real customer and saves it.
    log_in(page, HVAC_EMAIL)
    page.goto("/campaigns")
    page.click("#follow-ups-link")
    page.click("#new-follow-up")
    page.fill("#days_after", "7")
    page.select_option("#send_hour", "0")
    page.select_option("#trade", "hvac")
    page.fill("#name", "A week after")
    page.fill("#subject", "How is your AC, {first_name}?")
    page.fill("#body", "Hello {first_name},\n\nWe worked for you on {last_job_date}.")
    page.get_by_label("Comfort plan: Two tune-ups a year").check()
    page.click("#preview")
    expect(page.locator("#preview-message")).to_contain_text("How is your AC, ")
    page.click("#save")
    expect(page.locator("#follow-up-status")).to_have_text("running")
    expect(page.locator("#count-sent")).to_have_text("0")

    # The job worker's recurring run, as a starting worker queues it.
    with app.app_context():
        keep_follow_ups_queued(db)
        db.commit()
        run_jobs(app)

    [message] = inbox.messages  # Bo never agreed to offers
    assert message["To"] == "ana@example.com"
    assert message["Subject"] == "How is your AC, Ana?"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    day = eight_days_ago
    assert f"We worked for you on {day:%B} {day.day}, {day.year}." in text
    assert "Comfort plan: Two tune-ups a year" in text and OFFER_LINK.search(text)
    assert ADDRESS in text

    # The rule's page, open all along, shows the send by itself.
    updates_in_place(page.locator("#count-sent", has_text="1"), timeout=WORKER / 1000)
    expect(page.locator("#count-skipped")).to_have_text("1")
    expect(page.locator("#recent-sends")).to_contain_text("sent")
    page.goto("/follow-ups")
    expect(page.locator("main tbody tr", has_text="A week after")).to_contain_text("running")
