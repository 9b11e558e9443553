"""Logging in and out: a generic error, a rate limit, and a fresh session each time."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlmodel import Session, select

from referral.auth.models import LoginSession
from tests.factories import PASSWORD, make_business, make_user


@pytest.fixture
def user(db: Session):  # type: ignore[no-untyped-def]
    return make_user(db, make_business(db), email="pat@example.com")


def test_logging_in_leads_home_and_logging_out_ends_the_session(client, db: Session, user) -> None:
    response = client.post_form("/login", {"email": "PAT@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert user.name in client.get("/").get_data(as_text=True)

    client.post_form("/logout", page="/")

    assert db.exec(select(LoginSession)).all() == []
    assert "Log in" in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("email", "password"),
    [("pat@example.com", "wrong password!"), ("nobody@example.com", PASSWORD)],
)
def test_a_wrong_password_and_an_unknown_email_get_the_same_generic_error(
    client, user, email: str, password: str
) -> None:
    response = client.post_form("/login", {"email": email, "password": password})

    assert response.status_code == 401
    assert "Email or password is incorrect." in response.get_data(as_text=True)


def test_a_disabled_user_cannot_log_in(client, db: Session, user) -> None:
    from referral.db import utcnow

    user.disabled_at = utcnow()
    db.add(user)
    db.commit()

    response = client.post_form("/login", {"email": user.email, "password": PASSWORD})

    assert response.status_code == 401


def test_the_session_is_rotated_on_login(app: Flask, client, db: Session, user) -> None:
    client.get("/login")
    cookie_before = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    client.post_form("/login", {"email": user.email, "password": PASSWORD})
    cookie_after = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    first_login = db.exec(select(LoginSession.token_hash)).one()

    client.post_form("/login", {"email": user.email, "password": PASSWORD})

    assert cookie_after != cookie_before
    assert db.exec(select(LoginSession.token_hash)).all() != [first_login]


def test_next_only_leads_to_a_path_on_this_site(client, user) -> None:
    local = client.post_form("/login", {"email": user.email, "password": PASSWORD, "next": "/team"})
    assert local.headers["Location"] == "/team"
    client.post_form("/logout", page="/")
    away = client.post_form(
        "/login", {"email": user.email, "password": PASSWORD, "next": "//evil.example/x"}
    )
    assert away.headers["Location"] == "/"


def test_pages_that_need_a_login_redirect_to_it(client) -> None:
    response = client.get("/team")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/team")


class TestRateLimit:
    @pytest.fixture
    def app_overrides(self) -> dict[str, object]:
        return {"LOGIN_RATE_LIMIT": "3 per minute"}

    def test_too_many_attempts_are_refused_with_429(self, client, user) -> None:
        statuses = [
            client.post_form(
                "/login", {"email": user.email, "password": "wrong password"}
            ).status_code
            for _ in range(4)
        ]

        assert statuses == [401, 401, 401, 429]


def test_session_cookie_is_httponly_and_samesite_lax(app: Flask, client) -> None:
    response = client.get("/login")
    cookie = response.headers["Set-Cookie"]

    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie


class TestSecureCookies:
    @pytest.fixture
    def app_overrides(self) -> dict[str, object]:
        return {"SESSION_COOKIE_SECURE": True}

    def test_the_cookie_is_secure_when_configured(self, client) -> None:
        response = client.get("/login", base_url="https://localhost")

        assert "Secure" in response.headers["Set-Cookie"]
        assert "max-age" in response.headers["Strict-Transport-Security"]
