"""Every consent ends in the customer's inbox: whatever the method and the
subject, the job worker delivers (over real SMTP) a confirmation naming who
receives the details, why, the day the customer agreed, the SHA-256 of the
text, and a one-click withdrawal link that works."""

from __future__ import annotations

import datetime as dt
import re
from email.message import EmailMessage

import pytest
from flask import Flask
from sqlmodel import Session, select

from referral.consent import services as consent
from referral.consent.models import ConsentMethod, ConsentRecord
from tests.consent.support import (
    CUSTOMER_EMAIL,
    NEED,
    click_partner_offer,
    offer_lead,
    parties,
    refer,
)
from tests.support.jobs import run_jobs
from tests.support.smtp import Inbox

METHODS = tuple(ConsentMethod)
# A lead's consent is asked by link or recorded by staff (one attested method
# stands for all three: they differ only in their label).
CASES = [("referral", m) for m in METHODS] + [("lead", "email_link"), ("lead", "attested_phone")]
AGREED = dt.date.today() - dt.timedelta(days=9)


@pytest.fixture
def app_overrides(smtp_server) -> dict[str, object]:  # type: ignore[no-untyped-def]
    _, port = smtp_server
    return {"MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port}


def _text(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]


def _path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def _say_yes_by_link(app: Flask, inbox: Inbox) -> None:
    run_jobs(app)
    [question] = [m for m in inbox.to(CUSTOMER_EMAIL) if "asks before" in m["Subject"]]
    link = re.search(r"https?://\S+/consent/\S+", _text(question))
    assert link, _text(question)
    customer = app.test_client()
    answered = customer.post_form(_path(link.group(0)), {"answer": "yes"})
    again = customer.get(_path(link.group(0))).get_data(as_text=True)
    assert answered.status_code == 200
    # The answered link, opened again, shows the decision and the way back.
    assert "Withdraw my consent" in again and "Sunny HVAC" in again


@pytest.mark.parametrize(("subject", "method"), CASES)
def test_every_consent_is_confirmed_by_email_with_a_working_withdrawal_link(
    app: Flask, db: Session, smtp_server: tuple[Inbox, int], subject: str, method: str
) -> None:
    inbox, _ = smtp_server
    p = parties(app, db)
    attested_on = None if method in ("email_link", "campaign_click") else AGREED
    if method == "campaign_click":
        click_partner_offer(app, db, p)
        receiving = "Brook Plumbing"
    elif subject == "referral":
        refer(app, db, p, method, attested_on)
        receiving = "Brook Plumbing"
    else:
        offer_lead(app, db, p, method, attested_on)
        receiving = "at most 1 Plumbing business serving 78704"
    if method == "email_link":
        _say_yes_by_link(app, inbox)

    run_jobs(app)

    [confirmation] = [m for m in inbox.to(CUSTOMER_EMAIL) if m["Subject"].startswith("You agreed")]
    text = _text(confirmation)
    record = db.exec(select(ConsentRecord)).one()
    agreed_on = AGREED if attested_on else record.created_at.date()
    assert receiving in confirmation["Subject"] and receiving in text
    assert "Sunny HVAC" in text and NEED in text
    assert f"{agreed_on:%B} {agreed_on.day}, {agreed_on.year}" in text
    assert record.text_sha256 in text
    withdraw = re.search(r"https?://\S+/consent/withdraw/\S+", text)
    assert withdraw, text

    customer = app.test_client()
    page = customer.get(_path(withdraw.group(0))).get_data(as_text=True)
    done = customer.post_form(_path(withdraw.group(0)), {}).get_data(as_text=True)

    assert "Withdraw my consent" in page
    assert "Your consent is withdrawn" in done
    db.expire_all()
    assert consent.is_withdrawn(db, db.exec(select(ConsentRecord)).one())


def test_a_refusal_sends_no_confirmation_and_the_answered_link_shows_it(
    app: Flask, db: Session, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp_server
    p = parties(app, db)
    refer(app, db, p, "email_link")
    run_jobs(app)
    link = re.search(r"https?://\S+/consent/\S+", _text(inbox.to(CUSTOMER_EMAIL)[0]))
    assert link
    customer = app.test_client()
    customer.post_form(_path(link.group(0)), {"answer": "no"})

    again = customer.get(_path(link.group(0))).get_data(as_text=True)
    run_jobs(app)

    assert "You said no: nothing was shared." in again
    assert "Withdraw my consent" not in again
    assert not [m for m in inbox.to(CUSTOMER_EMAIL) if m["Subject"].startswith("You agreed")]
