"""Signing up a business: one form creates the business and its owner, or nothing."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlmodel import Session, select

from referral.auth.models import LoginSession, User, UserToken
from referral.businesses.models import Business
from tests.support.auth import is_signed_in, row_counts
from tests.support.factories import make_business, make_user
from tests.support.mail import last_email

GOOD = {
    "business_name": "Sunny Solar",
    "trade": "solar",
    "zip_code": "78701",
    "radius_miles": "30",
    "name": "Sam Sun",
    "email": "Sam@Sunny.example",
    "password": "a long enough password",
}
NOTHING = {"Business": 0, "User": 0, "LoginSession": 0, "UserToken": 0, "Invitation": 0, "Job": 0}


def test_the_signup_page_offers_the_seeded_trades(client) -> None:
    html = client.get("/signup").get_data(as_text=True)

    assert '<option value="solar">' in html
    assert '<option value="hvac">' in html


def test_signup_creates_the_business_and_its_owner_and_the_emailed_link_signs_in(
    app: Flask, client, db: Session
) -> None:
    response = client.post_form("/signup", GOOD)

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Check your email" in html and "sam@sunny.example" in html
    business = db.exec(select(Business).where(Business.name == "Sunny Solar")).one()
    owner = db.exec(select(User).where(User.business_id == business.id)).one()
    assert (owner.email, owner.name, owner.role, owner.email_verified_at) == (
        "sam@sunny.example",
        "Sam Sun",
        "owner",
        None,
    )
    assert owner.password_hash.startswith("$argon2id$")
    assert (business.zip_code, business.radius_miles) == ("78701", 30)
    assert round(business.latitude, 1) == 30.3
    assert not is_signed_in(client)  # the page must not differ for a taken address
    email = last_email(db, to="sam@sunny.example")
    assert email.subject == "Confirm your email address for Referral"
    assert email.link("/verify/").startswith(f"{app.config['BASE_URL']}/verify/")
    assert email.link("/verify/") in email.html
    token = db.exec(select(UserToken)).one()
    assert (token.purpose, token.user_id, token.sent_to) == ("verify_email", owner.id, owner.email)
    assert email.link("/verify/").rsplit("/", 1)[1] not in token.token_hash  # only a hash is kept
    assert GOOD["password"] not in html

    client.get(email.link("/verify/").removeprefix(app.config["BASE_URL"]))

    assert is_signed_in(client)
    assert db.exec(select(LoginSession.user_id)).all() == [owner.id]
    assert "Please verify your email address" not in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("business_name", "", "Enter a name of 1 to 120 characters."),
        ("business_name", "x" * 121, "Enter a name of 1 to 120 characters."),
        ("trade", "", "Choose a trade."),
        ("trade", "astrology", "Choose a trade."),
        ("zip_code", "00000", "Unknown ZIP code"),
        ("zip_code", "abcde", "Unknown ZIP code"),
        ("zip_code", "", "Unknown ZIP code"),
        ("radius_miles", "0", "Choose a radius from 1 to 200 miles."),
        ("radius_miles", "10000", "Choose a radius from 1 to 200 miles."),
        ("radius_miles", "ten", "Not a valid integer."),
        ("name", "", "Enter a name of 1 to 120 characters."),
        ("email", "", "Enter a valid email address."),
        ("email", "not-an-email", "Enter a valid email address."),
        ("password", "", "Use 10 to 128 characters."),
        ("password", "short", "Use 10 to 128 characters."),
        ("password", "x" * 129, "Use 10 to 128 characters."),
        ("password", "x" * 1000, "Use 10 to 128 characters."),
    ],
)
def test_a_bad_field_shows_its_error_next_to_it_and_writes_nothing(
    client, db: Session, field: str, value: str, message: str
) -> None:
    response = client.post_form("/signup", {**GOOD, field: value})

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'<p class="field-error" id="{field}-error">{message}' in html
    assert row_counts(db) == NOTHING
    assert not is_signed_in(client)


def test_a_missing_field_is_an_error_too(client, db: Session) -> None:
    response = client.post_form("/signup", {k: v for k, v in GOOD.items() if k != "password"})

    assert response.status_code == 422
    assert 'id="password-error"' in response.get_data(as_text=True)
    assert row_counts(db) == NOTHING


def test_the_form_keeps_what_was_typed_except_the_password(client) -> None:
    html = client.post_form("/signup", {**GOOD, "zip_code": "00000"}).get_data(as_text=True)

    assert 'value="Sunny Solar"' in html
    assert 'value="Sam@Sunny.example"' in html
    assert GOOD["password"] not in html


@pytest.mark.parametrize("taken", ["sam@sunny.example", "SAM@SUNNY.EXAMPLE"])
def test_a_taken_email_gets_the_same_page_and_its_owner_an_email_with_a_reset_link(
    app: Flask, client, db: Session, taken: str
) -> None:
    existing = make_business(db)
    make_user(db, existing, email=taken.lower(), name="Sam Before")
    fresh = app.test_client()
    answers_for_a_new_address = fresh.post_form(  # type: ignore[attr-defined]
        "/signup", {**GOOD, "email": "other@sunny.example"}
    )
    before = row_counts(db)

    response = client.post_form("/signup", {**GOOD, "email": taken.swapcase()})

    assert response.status_code == answers_for_a_new_address.status_code == 200
    shown = response.get_data(as_text=True)
    assert shown.replace("sam@sunny.example", "X") == (
        answers_for_a_new_address.get_data(as_text=True).replace("other@sunny.example", "X")
    )
    after = row_counts(db)
    assert {k: after[k] - before[k] for k in after} == {
        **dict.fromkeys(after, 0),
        "UserToken": 1,  # the reset link
        "Job": 1,  # its email
    }
    told = last_email(db, to="sam@sunny.example")
    assert told.subject == "Someone tried to sign up to Referral with your email address"
    assert "Sam Before" in told.text
    assert told.link("/password/reset/").startswith(app.config["BASE_URL"])


def test_signups_from_one_address_are_limited_after_the_configured_count(
    app: Flask, client, db: Session
) -> None:
    app.config["SIGNUP_RATE_LIMIT"] = "3 per hour"
    answers = [
        client.post_form("/signup", {**GOOD, "email": f"flood{n}@sunny.example"}).status_code
        for n in range(5)
    ]

    assert answers == [200, 200, 200, 429, 429]
    assert len(db.exec(select(User)).all()) == 3


def test_links_sent_to_one_address_are_limited_whoever_asks(app: Flask, db: Session) -> None:
    app.config["EMAIL_RATE_LIMIT"] = "2 per hour"
    make_user(db, make_business(db), email="sam@sunny.example")

    answers = []
    for n in range(4):  # from four different client addresses
        client = app.test_client()
        answers.append(
            client.post_form(  # type: ignore[attr-defined]
                "/password/forgot",
                {"email": "Sam@Sunny.example"},
                environ_base={"REMOTE_ADDR": f"203.0.113.{n}"},
            ).status_code
        )
    other = app.test_client().post_form(  # type: ignore[attr-defined]
        "/password/forgot", {"email": "someone@else.example"}
    )

    assert answers == [302, 302, 429, 429]
    assert other.status_code == 302
    assert len(db.exec(select(UserToken)).all()) == 2


@pytest.mark.parametrize("token", [None, "forged"])
def test_a_missing_or_wrong_csrf_token_is_a_400_and_writes_nothing(
    client, db: Session, token: str | None
) -> None:
    client.get("/signup")
    data = GOOD if token is None else {**GOOD, "csrf_token": token}

    response = client.post("/signup", data=data)

    assert response.status_code == 400
    assert row_counts(db) == NOTHING
