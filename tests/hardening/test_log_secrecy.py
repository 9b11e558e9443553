"""Logs name no one and give nothing away.

A whole flow runs through the app's HTTP surface with LOG_LEVEL=DEBUG and the
root logger capturing every library at DEBUG (werkzeug's access lines, the
job worker, stripe-python, SQLAlchemy, urllib3): two businesses sign up in the
forms, confirm their email from the emailed link, log in, one creates an API
key and adds a customer with it, they partner up, a referral goes out with the
customer's consent asked by email, the partner accepts and wins the job, the
commission is settled through the Stripe stand-in and paid when its webhook,
signed with a whsec_ secret, arrives.

Not one captured line may carry an email address, a phone number (as typed or
as stored), a password, the API key, the Stripe secret key, the webhook
secret, a session cookie or an emailed link's token. The library levels are
the app's own (referral/logs.py), as a production process with LOG_LEVEL=DEBUG
would run them; the root logger is at DEBUG, as the most talkative logging
configuration an operator could give it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import pytest
import requests
from flask import Flask
from sqlmodel import Session, select

from referral import create_app
from referral.auth.models import User
from referral.businesses.actor import Actor
from referral.businesses.models import Business
from referral.commissions.models import Commission
from referral.config import TestConfig
from referral.customers.models import Customer
from referral.logs import redact
from referral.partnerships.models import Partnership
from referral.referrals.models import Referral
from referral.settlements.models import Settlement
from tests.support.auth import session_cookie
from tests.support.factories import PASSWORD
from tests.support.live_server import LiveServer
from tests.support.mail import last_email
from tests.support.payments import (  # noqa: F401
    CONNECT_WEBHOOK_SECRET,
    WEBHOOK_SECRET,
    eventually,
    live,
)
from tests.support.stripe_pages import connect_stripe, fresh, save_card
from tests.support.stripe_standin import StripeStandIn, standin, stripe_standin  # noqa: F401

ALEX = {
    "business_name": "Cool Air HVAC",
    "trade": "hvac",
    "zip_code": "78701",
    "radius_miles": "25",
    "name": "Alex Cool",
    "email": "Alex.Cool@CoolAir.example",
    "password": PASSWORD,  # the factories' password, which the payment helpers sign in with
}
BLAIR = {
    **ALEX,
    "business_name": "Drip Plumbing",
    "trade": "plumbing",
    "zip_code": "78704",
    "name": "Blair Drip",
    "email": "blair+jobs@drip.example",
}
ANA = {"name": "Ana Diaz", "email": "ana.diaz@example.net", "phone": "(512) 555-0188"}
ANA_E164 = "+15125550188"
# What each side pays the other per won referral: 10% of the job, payable at once.
TERMS = {
    f"{side}-{field}": value
    for side in ("they_refer_to_me", "i_refer_to_them")
    for field, value in (
        ("basis", "percent"),
        ("percent", "10"),
        ("hold_days", "0"),
        ("response_window_hours", "48"),
    )
}


@pytest.fixture
def app_overrides(stripe_standin: StripeStandIn) -> dict[str, object]:  # noqa: F811
    return {
        "STRIPE_API_BASE": stripe_standin.api_base,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_CONNECT_WEBHOOK_SECRET": CONNECT_WEBHOOK_SECRET,
        "LOG_LEVEL": "DEBUG",
    }


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every record from every logger, DEBUG and up, as the root logger sees it."""
    caplog.set_level(logging.DEBUG)
    yield caplog


@dataclass
class Account:
    browser: Any
    actor: Actor
    link_token: str  # from the emailed verification link
    cookies: list[str]  # the session cookies of its sign-up and its login


def sign_up(app: Flask, db: Session, form: dict[str, str]) -> Account:
    """Sign up in the form, confirm the address from the emailed link (over
    HTTP, so the link lands in an access line), then log in afresh."""
    signed_up = app.test_client()
    assert signed_up.post_form("/signup", form).status_code == 200  # type: ignore[attr-defined]
    link = last_email(db, to=form["email"].lower()).link("/verify/")
    assert requests.get(link, timeout=10).ok
    browser = app.test_client()
    login = {"email": form["email"], "password": form["password"]}
    assert browser.post_form("/login", login).status_code == 302  # type: ignore[attr-defined]
    user = db.exec(select(User).where(User.email == form["email"].lower())).one()
    assert user.email_verified_at is not None
    return Account(
        browser=browser,
        actor=Actor.of_user(user, db.get(Business, user.business_id)),
        link_token=link.rsplit("/", 1)[1],
        cookies=[session_cookie(app, signed_up), session_cookie(app, browser)],
    )


def appears(value: str, logged: str) -> bool:
    """As given or URL-encoded (as in form-encoded bodies), in any case."""
    return any(form.lower() in logged for form in (value, quote_plus(value)))


def test_a_flow_from_sign_up_to_paid_commission_logs_no_personal_data_or_secret(
    app: Flask,
    db: Session,
    standin: StripeStandIn,  # noqa: F811
    live: LiveServer,  # noqa: F811
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    alex_account, blair_account = sign_up(app, db, ALEX), sign_up(app, db, BLAIR)
    alex, hvac = alex_account.browser, alex_account.actor
    blair, plumber = blair_account.browser, blair_account.actor

    created = alex.post_form("/settings/api-keys", {"name": "CRM sync"})
    api_key = re.search(r'id="new-key-secret">([^<]+)<', created.get_data(as_text=True)).group(1)
    added = requests.post(
        f"{live.url}/api/v1/customers",
        json=ANA,
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=10,
    )
    assert added.status_code == 201, added.text
    assert db.get(Customer, added.json()["id"]).phone == ANA_E164

    proposed = alex.post_form(f"/partners/{plumber.business_id}/propose", TERMS)
    assert proposed.status_code == 302
    partnership = db.exec(select(Partnership)).one()
    detail = f"/partnerships/{partnership.id}"
    assert blair.post_form(f"{detail}/accept", page=detail).status_code == 302

    sent = alex.post_form(
        "/referrals/new",
        {
            "partner_id": str(plumber.business_id),
            "customer_id": str(added.json()["id"]),
            "need": "Water heater leaking in the garage",
            "urgency": "this_week",
            "consent_method": "email_link",
        },
    )
    assert sent.status_code == 302
    consent_link = last_email(db, to=ANA["email"]).link("/consent/")
    assert requests.get(consent_link, timeout=10).ok  # the customer opens it
    consent_path = consent_link.removeprefix(live.url)
    app.test_client().post_form(consent_path, {"answer": "yes"})
    referral = db.exec(select(Referral)).one()
    page = f"/referrals/{referral.id}"
    assert blair.post_form(f"{page}/accept", page=page).status_code == 302
    won = {"job_value": "1,000", "job_date": "2026-11-20"}
    assert blair.post_form(f"{page}/won", won, page=page).status_code == 302
    assert fresh(db, Commission).status == "approved"

    connect_stripe(app, db, standin, hvac)
    save_card(app, db, standin, plumber)
    alex.post_form("/settlements/run", {}, page="/settlements")
    eventually(lambda: fresh(db, Settlement).status == "paid", what="settlement paid")
    assert fresh(db, Commission).status == "paid"

    logged = debug_logs.text.lower()
    # Everyone spoke: the access log, the worker, stripe-python and the webhook.
    for expected in (
        '"get /verify/',
        '"get /consent/',
        '"post /stripe/webhook http/1.1" 200',
        "request to stripe api",
        "referral.jobs.worker",
    ):
        assert expected in logged, expected
    assert "api response body" not in logged  # stripe-python's DEBUG bodies stay off
    secrets = {
        "email addresses": [ALEX["email"], BLAIR["email"], ANA["email"]],
        "phone numbers": [ANA["phone"], ANA_E164, ANA_E164.removeprefix("+1")],
        "passwords": [PASSWORD],
        "API key": [api_key],
        "Stripe keys": [
            app.config["STRIPE_SECRET_KEY"],
            WEBHOOK_SECRET,
            CONNECT_WEBHOOK_SECRET,
        ],
        "app secret": [app.config["SECRET_KEY"]],
        "session cookies": [*alex_account.cookies, *blair_account.cookies],
        "link tokens": [
            alex_account.link_token,
            blair_account.link_token,
            consent_link.rsplit("/", 1)[1],
        ],
    }
    leaked = {
        kind: [value for value in values if appears(value, logged)]
        for kind, values in secrets.items()
    }
    assert leaked == dict.fromkeys(secrets, []), leaked


@pytest.mark.parametrize(
    ("line", "redacted"),
    [
        (
            "post_data=type=express&email=alex.cool%40coolair.example&metadata[business_id]=1",
            "post_data=type=express&email=[email]&metadata[business_id]=1",
        ),
        ('"email": "blair+jobs@drip.example",', '"email": "[email]",'),
        (
            '"client_secret": "pi_AV8EmR9ogrYKe7_secret_U5mWDLisJnB6cST9"',
            '"client_secret": "[secret]"',
        ),
        ("phone=%2B15125550188 or +15125550188", "phone=[phone] or [phone]"),
        (
            "key sk_live_51Habc and whsec_Ab+c/9= and rk_live_0a1b2c3d_x-Y",
            "key [secret] and [secret] and [secret]",
        ),
        (
            '"GET /password/reset/TeSJCxxcp0-zNDZdPFjuX2hKeCceakf0wVzyzQ2Fu2s HTTP/1.1" 200',
            '"GET /password/reset/[token] HTTP/1.1" 200',
        ),
        ("job 17 (settlement.charge) done", "job 17 (settlement.charge) done"),
    ],
)
def test_redaction_replaces_personal_data_and_secrets_and_keeps_the_rest(
    line: str, redacted: str
) -> None:
    assert redact(line) == redacted


def test_any_logger_s_record_is_redacted_message_arguments_and_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    create_app(TestConfig(DATABASE_URL="sqlite://"))  # the app's logging set up in this process
    log = logging.getLogger("some.library")
    caplog.set_level(logging.DEBUG)
    try:
        raise ValueError("duplicate key: ana.diaz@example.net")
    except ValueError:
        log.exception("could not add %s (%s)", "ana.diaz@example.net", ANA_E164)

    assert caplog.messages == ["could not add [email] ([phone])"]
    assert "ValueError: duplicate key: [email]" in caplog.text
    assert "ana.diaz" not in caplog.text
