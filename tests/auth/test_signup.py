"""Signing up a business: one form creates the business and its owner, or nothing."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from referral.auth.models import User
from referral.businesses.models import Business
from tests.factories import make_business, make_user
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


def test_signup_creates_the_business_and_owner_signs_in_and_emails_a_link(
    client, db: Session
) -> None:
    response = client.post_form("/signup", GOOD)

    assert response.status_code == 302
    business = db.exec(select(Business).where(Business.name == "Sunny Solar")).one()
    owner = db.exec(select(User).where(User.business_id == business.id)).one()
    assert (owner.email, owner.role, owner.email_verified_at) == (
        "sam@sunny.example",
        "owner",
        None,
    )
    assert owner.password_hash.startswith("$argon2id$")
    assert (business.zip_code, business.radius_miles) == ("78701", 30)
    assert round(business.latitude, 1) == 30.3
    assert "Sunny Solar" in client.get("/").get_data(as_text=True)
    email = last_email(db, to="sam@sunny.example")
    assert "/verify/" in email.link("/verify/")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("business_name", "", "Enter a name of 1 to 120 characters."),
        ("trade", "", "Choose a trade."),
        ("zip_code", "00000", "Unknown ZIP code"),
        ("zip_code", "abcde", "Unknown ZIP code"),
        ("radius_miles", "0", "Choose a radius from 1 to 200 miles."),
        ("radius_miles", "10000", "Choose a radius from 1 to 200 miles."),
        ("email", "not-an-email", "Enter a valid email address."),
        ("password", "short", "Use 10 to 128 characters."),
        ("password", "x" * 1000, "Use 10 to 128 characters."),
    ],
)
def test_a_bad_field_shows_its_error_and_writes_nothing(
    client, db: Session, field: str, value: str, message: str
) -> None:
    response = client.post_form("/signup", {**GOOD, field: value})

    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.exec(select(Business)).all() == []
    assert db.exec(select(User)).all() == []


def test_an_email_already_used_in_another_case_is_refused(client, db: Session) -> None:
    existing = make_business(db)
    make_user(db, existing, email="sam@sunny.example")

    response = client.post_form("/signup", GOOD)

    assert response.status_code == 422
    assert "already exists" in response.get_data(as_text=True)
    assert db.exec(select(Business)).all() == [existing]


def test_a_missing_or_wrong_csrf_token_is_a_400_and_writes_nothing(client, db: Session) -> None:
    client.get("/signup")
    missing = client.post("/signup", data=GOOD)
    wrong = client.post("/signup", data={**GOOD, "csrf_token": "forged"})

    assert missing.status_code == wrong.status_code == 400
    assert db.exec(select(User)).all() == []
