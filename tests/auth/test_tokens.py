"""Emailed links: email verification and password reset work once, then never again."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from sqlalchemy import update
from sqlmodel import Session, select

from referral.auth.models import LoginSession, User, UserToken
from tests.factories import PASSWORD, SignedIn, make_business, make_user, sign_in
from tests.support.mail import last_email


def test_the_verification_link_confirms_the_email_once(app: Flask, db: Session) -> None:
    user = make_user(db, make_business(db), email="new@example.com", verified=False)
    client = sign_in(app, user)
    client.post_form("/verify/resend")
    link = last_email(db, to="new@example.com").path("/verify/")

    first = client.get(link)
    again = client.get(link)

    assert first.status_code == 302
    db.refresh(user)
    assert user.email_verified_at is not None
    assert again.status_code == 400
    assert "already been used" in again.get_data(as_text=True)


def test_an_expired_or_tampered_verification_link_changes_nothing(app: Flask, db: Session) -> None:
    user = make_user(db, make_business(db), email="new@example.com", verified=False)
    client = sign_in(app, user)
    client.post_form("/verify/resend")
    link = last_email(db, to="new@example.com").path("/verify/")
    db.execute(update(UserToken).values(expires_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
    db.commit()

    expired = client.get(link)
    tampered = client.get(link[:-3] + "xyz")

    assert expired.status_code == 400 and "expired" in expired.get_data(as_text=True)
    assert tampered.status_code == 400 and "not valid" in tampered.get_data(as_text=True)
    db.refresh(user)
    assert user.email_verified_at is None


def test_forgot_password_says_the_same_whether_or_not_the_account_exists(
    client, db: Session, owner_a: SignedIn
) -> None:
    known = client.post_form("/password/forgot", {"email": owner_a.user.email})
    unknown = client.post_form("/password/forgot", {"email": "nobody@example.com"})

    assert known.status_code == unknown.status_code == 302
    assert client.get("/login").get_data(as_text=True).count("If an account uses that email") == 1
    assert last_email(db, to=owner_a.user.email).subject == "Reset your Referral password"


def test_a_reset_link_sets_a_new_password_once_and_logs_out_everywhere(
    client, db: Session, owner_a: SignedIn
) -> None:
    client.post_form("/password/forgot", {"email": owner_a.user.email})
    link = last_email(db, to=owner_a.user.email).path("/password/reset/")

    weak = client.post_form(link, {"password": "short"})
    assert weak.status_code == 422
    done = client.post_form(link, {"password": "a brand new password"})
    reused = client.get(link)

    assert done.status_code == 302
    assert reused.status_code == 400
    assert db.exec(select(LoginSession)).all() == []  # owner_a's browser is logged out
    assert last_email(db, to=owner_a.user.email).subject == "Your Referral password was changed"
    assert (
        client.post_form(
            "/login", {"email": owner_a.user.email, "password": "a brand new password"}
        ).status_code
        == 302
    )


def test_an_expired_reset_link_is_refused(client, db: Session, owner_a: SignedIn) -> None:
    client.post_form("/password/forgot", {"email": owner_a.user.email})
    link = last_email(db, to=owner_a.user.email).path("/password/reset/")
    db.execute(update(UserToken).values(expires_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
    db.commit()

    response = client.post_form(link, {"password": "a brand new password"}, page="/login")

    assert response.status_code == 400
    db.refresh(owner_a.user)
    assert owner_a.client.get("/").status_code == 200  # still logged in: nothing changed


def test_changing_the_password_needs_the_current_one_and_ends_other_sessions(
    app: Flask, db: Session, owner_a: SignedIn
) -> None:
    other_device = sign_in(app, owner_a.user)
    wrong = owner_a.client.post_form(  # type: ignore[attr-defined]
        "/account/password", {"current_password": "not it at all", "password": "new password 1"}
    )
    assert wrong.status_code == 422
    assert "This is not your current password." in wrong.get_data(as_text=True)

    right = owner_a.client.post_form(  # type: ignore[attr-defined]
        "/account/password", {"current_password": PASSWORD, "password": "new password 1"}
    )

    assert right.status_code == 302
    assert owner_a.client.get("/team").status_code == 200  # type: ignore[attr-defined]
    assert other_device.get("/team").status_code == 302  # back to the login page
    user = db.exec(select(User).where(User.id == owner_a.user.id)).one()
    db.refresh(user)
    assert user.password_changed_at is not None
