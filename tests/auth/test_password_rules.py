"""Passwords per NIST SP 800-63B: 10 to 128 characters of any kind, no
composition rules, but not a common or breached password (zxcvbn's offline
lists), nor one containing the email's name or the business's name. Every
form that sets a password says why it refused one, and keeps nothing."""

from __future__ import annotations

import pytest
from flask import Flask
from markupsafe import escape
from sqlmodel import Session, select

from referral.auth.models import Invitation, User
from referral.auth.passwords import password_problem, verify_password
from tests.support.auth import row_counts
from tests.support.factories import PASSWORD, SignedIn
from tests.support.mail import last_email

SIGNUP = {
    "business_name": "Sunny Solar",
    "trade": "solar",
    "zip_code": "78701",
    "radius_miles": "30",
    "name": "Sam Sun",
    "email": "sam.sun@sunny.example",
}
REFUSED = [
    ("aaaaaaaaaa", 'Repeats like "aaa" are easy to guess.'),
    ("password12", "This is a very common password."),
    ("qwertyuiop", "This is a top-100 common password."),
    ("P@ssw0rd123", "This is similar to a commonly used password."),
    ("Sam.Sun@sunny.example", "Do not use your email address in your password."),
    ("my sam.sun secret", "Do not use your email address in your password."),
    ("SUNNY SOLAR for ever", "Do not use your business's name in your password."),
]


@pytest.mark.parametrize(("password", "reason"), REFUSED)
def test_sign_up_refuses_a_common_or_personal_password_and_says_why(
    client, db: Session, password: str, reason: str
) -> None:
    response = client.post_form("/signup", {**SIGNUP, "password": password})

    assert response.status_code == 422
    assert f'id="password-error">{escape(reason)}' in response.get_data(as_text=True)
    assert db.exec(select(User)).all() == []


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery",
        "ünïcödé pässwörd ok",
        "1 2 3 4 5 6 7 8 9 0 x y z",
        "🦆 flies over 🏠 at dawn",
    ],
)
def test_any_characters_make_a_password_without_composition_rules(password: str) -> None:
    assert password_problem(password, email="sam@sunny.example", business_name="Sunny") is None


def test_a_password_past_zxcvbns_limit_is_judged_by_its_first_72_characters() -> None:
    assert password_problem("a" * 128) is not None
    assert password_problem("correct horse battery staple " * 4) is None


def test_changing_to_a_common_password_is_refused_with_the_reason(
    db: Session, owner_a: SignedIn
) -> None:
    response = owner_a.client.post_form(  # type: ignore[attr-defined]
        "/account/password", {"current_password": PASSWORD, "password": "password12"}
    )

    assert response.status_code == 422
    assert 'id="password-error">This is a very common password.' in response.get_data(as_text=True)
    db.expire_all()
    assert verify_password(db.get(User, owner_a.user.id).password_hash, PASSWORD)


def test_a_reset_to_the_business_name_is_refused_and_the_link_still_works(
    app: Flask, client, db: Session, owner_a: SignedIn
) -> None:
    client.post_form("/password/forgot", {"email": owner_a.user.email})
    link = last_email(db, to=owner_a.user.email).path("/password/reset/")

    refused = client.post_form(link, {"password": "cool air hvac is great"})
    done = client.post_form(link, {"password": "a brand new password"})

    assert refused.status_code == 422
    assert "Do not use your business&#39;s name in your password." in refused.get_data(as_text=True)
    assert done.status_code == 302


def test_joining_a_team_with_a_weak_password_is_refused_and_the_invitation_waits(
    app: Flask, db: Session, owner_a: SignedIn
) -> None:
    owner_a.client.post_form(  # type: ignore[attr-defined]
        "/team/invitations", {"email": "casey@coolair.example", "role": "staff"}, page="/team"
    )
    link = last_email(db, to="casey@coolair.example").path("/invitations/")
    browser = app.test_client()
    before = row_counts(db)

    refused = browser.post_form(link, {"name": "Casey", "password": "casey@coolair"})  # type: ignore[attr-defined]

    assert refused.status_code == 422
    assert "Do not use your email address in your password." in refused.get_data(as_text=True)
    assert row_counts(db) == before
    assert db.exec(select(Invitation)).one().accepted_at is None
