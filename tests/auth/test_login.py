"""Logging in and out: a generic error, a rate limit, and a fresh session each time."""

from __future__ import annotations

import datetime as dt
import os
import secrets

import pytest
from flask import Flask
from sqlalchemy import update
from sqlmodel import Session, select

from referral.auth.models import LoginSession, User
from referral.db import utcnow
from tests.support.auth import browser_with_cookie, is_signed_in, row_counts, session_cookie
from tests.support.factories import PASSWORD, make_business, make_user

LOGIN_FAILED = "Email or password is incorrect."


@pytest.fixture
def user(db: Session) -> User:
    return make_user(db, make_business(db), email="pat@example.com", name="Pat Example")


def log_in(client, email: str, password: str = PASSWORD, **fields: str):  # type: ignore[no-untyped-def]
    return client.post_form("/login", {"email": email, "password": password, **fields})


def test_logging_in_in_any_case_leads_home_and_logging_out_ends_the_session(
    client, db: Session, user: User
) -> None:
    response = log_in(client, "PAT@Example.com")

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert "Pat Example" in client.get("/").get_data(as_text=True)
    login = db.exec(select(LoginSession)).one()
    assert login.user_id == user.id
    assert dt.timedelta(days=13) < login.expires_at - utcnow() <= dt.timedelta(days=14)

    client.post_form("/logout", page="/")

    assert db.exec(select(LoginSession)).all() == []
    assert not is_signed_in(client)
    assert "Log in" in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("pat@example.com", "wrong password!"),
        ("nobody@example.com", PASSWORD),
        ("pat@example.com", "x" * 1000),
    ],
)
def test_a_wrong_password_and_an_unknown_email_get_the_same_generic_error(
    client, db: Session, user: User, email: str, password: str
) -> None:
    response = log_in(client, email, password)

    html = response.get_data(as_text=True)
    assert response.status_code == 401
    assert LOGIN_FAILED in html
    assert "not registered" not in html and "wrong password" not in html.lower()
    assert row_counts(db)["LoginSession"] == 0
    assert not is_signed_in(client)


def test_an_unknown_email_is_checked_against_a_dummy_hash(monkeypatch, client, user) -> None:
    """Same work for both answers, so response times do not reveal who has an account."""
    from referral.auth import passwords

    real = passwords._hasher
    checked: list[str] = []

    class Spy:
        def verify(self, hash_: str, password: str) -> bool:
            checked.append(hash_)
            return real.verify(hash_, password)

    monkeypatch.setattr(passwords, "_hasher", Spy())

    response = log_in(client, "nobody@example.com")

    assert response.status_code == 401
    assert checked == [passwords._DUMMY_HASH]


def test_an_empty_form_gets_the_generic_error_too(client, user: User) -> None:
    response = client.post_form("/login", {})

    assert response.status_code == 422
    assert LOGIN_FAILED in response.get_data(as_text=True)


def test_a_disabled_user_cannot_log_in(client, db: Session, user: User) -> None:
    user.disabled_at = utcnow()
    db.add(user)
    db.commit()

    response = log_in(client, user.email)

    assert response.status_code == 401
    assert LOGIN_FAILED in response.get_data(as_text=True)
    assert db.exec(select(LoginSession)).all() == []


def test_the_cookie_from_before_login_is_worthless_after_it(
    app: Flask, client, db: Session, user: User
) -> None:
    client.get("/login")
    before = session_cookie(app, client)

    log_in(client, user.email)

    after = session_cookie(app, client)
    assert after != before
    assert is_signed_in(client)
    assert not is_signed_in(browser_with_cookie(app, before))
    assert is_signed_in(browser_with_cookie(app, after))


def test_logging_in_again_ends_the_earlier_login_of_that_browser(
    app: Flask, client, db: Session, user: User
) -> None:
    log_in(client, user.email)
    first_cookie = session_cookie(app, client)
    first_login = db.exec(select(LoginSession.token_hash)).one()

    log_in(client, user.email)

    assert db.exec(select(LoginSession.token_hash)).one() != first_login
    assert not is_signed_in(browser_with_cookie(app, first_cookie))
    assert is_signed_in(client)


def test_a_logged_out_cookie_cannot_be_replayed(app: Flask, client, user: User) -> None:
    log_in(client, user.email)
    stolen = session_cookie(app, client)

    client.post_form("/logout", page="/")

    assert not is_signed_in(browser_with_cookie(app, stolen))


def test_a_login_session_expires(client, db: Session, user: User) -> None:
    log_in(client, user.email)
    db.execute(update(LoginSession).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    db.commit()

    assert not is_signed_in(client)


def test_a_user_disabled_while_signed_in_is_signed_out(client, db: Session, user: User) -> None:
    log_in(client, user.email)
    user.disabled_at = utcnow()
    db.add(user)
    db.commit()

    assert not is_signed_in(client)


@pytest.mark.parametrize("target", ["/team", "/partnerships?status=active"])
def test_next_leads_to_a_path_on_this_site(client, user: User, target: str) -> None:
    response = log_in(client, user.email, next=target)

    assert response.headers["Location"] == target


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/x",
        "https://evil.example/x",
        "/\\evil.example/x",
        "/\t/evil.example/x",
        "javascript:alert(1)",
        "evil.example",
    ],
)
def test_next_never_leads_off_the_site(client, user: User, target: str) -> None:
    response = log_in(client, user.email, next=target)

    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_pages_that_need_a_login_send_you_back_after_it(client, user: User) -> None:
    response = client.get("/team")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/team")

    login_page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'name="next" value="/team"' in login_page
    assert log_in(client, user.email, next="/team").headers["Location"] == "/team"


def test_logging_out_needs_a_post_with_the_csrf_token(client, db: Session, user: User) -> None:
    log_in(client, user.email)

    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert is_signed_in(client)
    assert len(db.exec(select(LoginSession)).all()) == 1


class TestRateLimit:
    @pytest.fixture
    def app_overrides(self) -> dict[str, object]:
        return {"LOGIN_RATE_LIMIT": "3 per minute"}

    def test_too_many_attempts_from_one_address_are_refused_with_429(
        self, client, user: User
    ) -> None:
        statuses = [log_in(client, user.email, "wrong password").status_code for _ in range(3)]
        refused = log_in(client, user.email)  # even the right password now

        assert statuses == [401, 401, 401]
        assert refused.status_code == 429
        assert "Retry-After" in refused.headers
        assert not is_signed_in(client)

    def test_the_limit_counts_per_address(self, app: Flask, client, user: User) -> None:
        for _ in range(3):
            log_in(client, user.email, "wrong password")
        elsewhere = app.test_client()
        elsewhere.environ_base["REMOTE_ADDR"] = "203.0.113.9"

        assert log_in(elsewhere, user.email).status_code == 302

    def test_a_forwarded_address_is_not_believed_without_a_trusted_proxy(
        self, client, user: User
    ) -> None:
        client.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.1"
        for _ in range(3):
            log_in(client, user.email, "wrong password")
        client.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.2"  # a spoofed new address

        assert log_in(client, user.email).status_code == 429

    def test_showing_the_login_page_is_not_limited(self, client) -> None:
        assert [client.get("/login").status_code for _ in range(5)] == [200] * 5


class TestBehindALoadBalancer:
    @pytest.fixture
    def app_overrides(self) -> dict[str, object]:
        return {"LOGIN_RATE_LIMIT": "3 per minute", "TRUSTED_PROXIES": 1}

    def test_the_limit_counts_per_client_address_the_balancer_forwards(
        self, app: Flask, user: User
    ) -> None:
        # Every request reaches the app from the balancer's own address.
        first, second = app.test_client(), app.test_client()
        first.environ_base.update(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.1")
        second.environ_base.update(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.2")
        for _ in range(3):
            log_in(first, user.email, "wrong password")

        assert log_in(first, user.email).status_code == 429
        assert log_in(second, user.email).status_code == 302


def test_the_session_cookie_is_httponly_and_samesite_lax(app: Flask, client) -> None:
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


def test_a_password_is_kept_exactly_as_typed(client, db: Session) -> None:
    user = make_user(db, make_business(db), email="spaces@example.com", password=" padded pass ")

    trimmed = client.post_form("/login", {"email": user.email, "password": "padded pass"})
    exact = client.post_form("/login", {"email": user.email, "password": " padded pass "})

    assert trimmed.status_code == 401
    assert exact.status_code == 302


REDIS_URL = os.environ.get("TEST_REDIS_URL", "")


@pytest.mark.skipif(not REDIS_URL, reason="Redis not configured: set TEST_REDIS_URL")
class TestOnSharedRedis:
    """Several web nodes count logins in one Redis (the `redis` extra): the counter
    lives there, not in the process."""

    @pytest.fixture
    def app_overrides(self) -> dict[str, object]:
        return {"LOGIN_RATE_LIMIT": "3 per minute", "RATELIMIT_STORAGE_URI": REDIS_URL}

    def test_the_login_limit_is_counted_in_redis(self, client, user: User) -> None:
        import redis

        address = f"198.18.{secrets.randbelow(256)}.{secrets.randbelow(256)}"
        client.environ_base["REMOTE_ADDR"] = address  # a counter no earlier run touched
        for _ in range(3):
            assert log_in(client, user.email, "wrong password").status_code == 401

        assert log_in(client, user.email).status_code == 429
        keys = redis.Redis.from_url(REDIS_URL).keys(f"*{address}*")
        assert keys, "no rate-limit counter in Redis"
