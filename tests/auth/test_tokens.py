"""Emailed links: email verification and password reset work once, before they
expire, and are always built on BASE_URL."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from sqlalchemy import update
from sqlmodel import Session, select

from referral.auth import services
from referral.auth.models import LoginSession, User, UserToken
from referral.auth.passwords import verify_password
from referral.errors import DomainError
from tests.support.auth import is_signed_in, row_counts
from tests.support.factories import PASSWORD, SignedIn, make_business, make_user, sign_in
from tests.support.mail import last_email, queued_emails

NEW_PASSWORD = "a brand new password"
LONG_AGO = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def expire_all_tokens(db: Session) -> None:
    db.execute(update(UserToken).values(expires_at=LONG_AGO))
    db.commit()


def reload(db: Session, user: User) -> User:
    db.expire_all()
    fresh = db.get(User, user.id)
    assert fresh is not None
    return fresh


# --- email verification ------------------------------------------------------------------


@pytest.fixture
def unverified(app: Flask, db: Session) -> SignedIn:
    business = make_business(db)
    user = make_user(db, business, email="new@example.com", verified=False)
    return SignedIn(business, user, sign_in(app, user))


def test_the_dashboard_link_to_resend_shows_a_page_with_a_button(unverified: SignedIn) -> None:
    client = unverified.client
    dashboard = client.get("/").get_data(as_text=True)  # type: ignore[attr-defined]
    assert 'href="/verify/resend"' in dashboard

    page = client.get("/verify/resend")  # type: ignore[attr-defined]

    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<form method="post"' in html and "Send the link again" in html
    assert "new@example.com" in html


def test_asking_for_the_page_sends_nothing(db: Session, unverified: SignedIn) -> None:
    unverified.client.get("/verify/resend")  # type: ignore[attr-defined]

    assert queued_emails(db) == []


def test_the_verification_link_confirms_the_email_once(
    app: Flask, db: Session, unverified: SignedIn
) -> None:
    unverified.client.post_form("/verify/resend")  # type: ignore[attr-defined]
    email = last_email(db, to="new@example.com")
    assert email.link("/verify/").startswith(f"{app.config['BASE_URL']}/verify/")
    link = email.path("/verify/")
    logged_out = app.test_client()  # the link works in any browser

    first = logged_out.get(link)
    again = logged_out.get(link)

    assert first.status_code == 302
    assert reload(db, unverified.user).email_verified_at is not None
    assert again.status_code == 400
    assert "already been used" in again.get_data(as_text=True)
    dashboard = unverified.client.get("/").get_data(as_text=True)  # type: ignore[attr-defined]
    assert "Please verify your email address" not in dashboard


def test_an_expired_or_tampered_verification_link_changes_nothing(
    db: Session, unverified: SignedIn
) -> None:
    client = unverified.client
    client.post_form("/verify/resend")  # type: ignore[attr-defined]
    link = last_email(db, to="new@example.com").path("/verify/")
    expire_all_tokens(db)

    expired = client.get(link)  # type: ignore[attr-defined]
    tampered = client.get(link[:-3] + "xyz")  # type: ignore[attr-defined]

    assert expired.status_code == 400 and "expired" in expired.get_data(as_text=True)
    assert tampered.status_code == 400 and "not valid" in tampered.get_data(as_text=True)
    assert reload(db, unverified.user).email_verified_at is None
    assert db.exec(select(UserToken.used_at)).all() == [None]


def test_a_verified_user_is_not_sent_another_link(db: Session, owner_a: SignedIn) -> None:
    response = owner_a.client.post_form("/verify/resend", page="/")  # type: ignore[attr-defined]

    assert response.status_code == 302
    assert queued_emails(db) == []


def test_resending_needs_a_login(client, db: Session) -> None:
    response = client.post_form("/verify/resend", page="/login")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert queued_emails(db) == []


# --- password reset -----------------------------------------------------------------------


def forgot(client, email: str):  # type: ignore[no-untyped-def]
    return client.post_form("/password/forgot", {"email": email})


def test_forgot_password_says_the_same_whether_or_not_the_account_exists(
    client, db: Session, owner_a: SignedIn
) -> None:
    known = forgot(client, owner_a.user.email.upper())
    known_page = client.get(known.headers["Location"]).get_data(as_text=True)
    unknown = forgot(client, "nobody@example.com")
    unknown_page = client.get(unknown.headers["Location"]).get_data(as_text=True)

    assert known.status_code == unknown.status_code == 302
    assert known.headers["Location"] == unknown.headers["Location"]
    assert "If an account uses that email" in known_page
    assert "If an account uses that email" in unknown_page
    assert [e.to for e in queued_emails(db)] == [owner_a.user.email]
    assert last_email(db, to=owner_a.user.email).subject == "Reset your Referral password"


def test_forgot_password_with_a_malformed_email_is_a_field_error(client, db: Session) -> None:
    response = forgot(client, "not an email")

    assert response.status_code == 422
    assert "Enter a valid email address." in response.get_data(as_text=True)
    assert row_counts(db)["UserToken"] == 0


def test_a_reset_link_sets_a_new_password_once_and_logs_out_everywhere(
    app: Flask, client, db: Session, owner_a: SignedIn
) -> None:
    forgot(client, owner_a.user.email)
    email = last_email(db, to=owner_a.user.email)
    assert email.link("/password/reset/").startswith(f"{app.config['BASE_URL']}/password/reset/")
    link = email.path("/password/reset/")

    assert client.get(link).status_code == 200  # opening it does not spend it
    done = client.post_form(link, {"password": NEW_PASSWORD})
    reused = client.get(link)

    assert done.status_code == 302
    assert reused.status_code == 400
    assert "already been used" in reused.get_data(as_text=True)
    assert db.exec(select(LoginSession)).all() == []
    assert not is_signed_in(owner_a.client)
    notice = last_email(db, to=owner_a.user.email)
    assert notice.subject == "Your Referral password was changed"
    assert "/password/forgot" in notice.link("/password/forgot")
    old = client.post_form("/login", {"email": owner_a.user.email, "password": PASSWORD})
    assert old.status_code == 401
    assert (
        client.post_form(
            "/login", {"email": owner_a.user.email, "password": NEW_PASSWORD}
        ).status_code
        == 302
    )


def test_a_reset_ends_the_other_reset_links(client, db: Session, owner_a: SignedIn) -> None:
    forgot(client, owner_a.user.email)
    older = last_email(db, to=owner_a.user.email).path("/password/reset/")
    forgot(client, owner_a.user.email)
    newer = last_email(db, to=owner_a.user.email).path("/password/reset/")

    assert client.post_form(newer, {"password": NEW_PASSWORD}).status_code == 302

    refused = client.get(older)
    assert refused.status_code == 400
    assert "already been used" in refused.get_data(as_text=True)


def test_a_reset_link_proves_the_email(app: Flask, client, db: Session) -> None:
    user = make_user(db, make_business(db), email="new@example.com", verified=False)
    forgot(client, user.email)

    client.post_form(
        last_email(db, to=user.email).path("/password/reset/"), {"password": NEW_PASSWORD}
    )

    assert reload(db, user).email_verified_at is not None


@pytest.mark.parametrize(
    ("password", "message"),
    [("short", "Use 10 to 128 characters."), ("x" * 1000, "Use 10 to 128 characters.")],
)
def test_a_weak_new_password_is_refused_and_the_link_still_works(
    client, db: Session, owner_a: SignedIn, password: str, message: str
) -> None:
    forgot(client, owner_a.user.email)
    link = last_email(db, to=owner_a.user.email).path("/password/reset/")
    hash_before = owner_a.user.password_hash

    response = client.post_form(link, {"password": password})

    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert reload(db, owner_a.user).password_hash == hash_before
    assert db.exec(select(UserToken.used_at)).all() == [None]
    assert is_signed_in(owner_a.client)
    assert client.post_form(link, {"password": NEW_PASSWORD}).status_code == 302


def test_an_expired_reset_link_is_refused(client, db: Session, owner_a: SignedIn) -> None:
    forgot(client, owner_a.user.email)
    link = last_email(db, to=owner_a.user.email).path("/password/reset/")
    expire_all_tokens(db)

    response = client.post_form(link, {"password": NEW_PASSWORD}, page="/login")

    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    assert verify_password(reload(db, owner_a.user).password_hash, PASSWORD)
    assert is_signed_in(owner_a.client)


def test_a_removed_members_reset_link_is_refused(
    app: Flask, client, db: Session, owner_a: SignedIn
) -> None:
    staff = make_user(db, owner_a.business, email="s@coolair.example", role="staff")
    forgot(client, staff.email)
    link = last_email(db, to=staff.email).path("/password/reset/")
    owner_a.client.post_form(f"/team/members/{staff.id}/remove", page="/team")  # type: ignore[attr-defined]

    assert client.get(link).status_code == 400
    assert client.post_form(link, {"password": NEW_PASSWORD}, page="/login").status_code == 400


def test_a_removed_member_is_not_sent_a_reset_link(client, db: Session, owner_a: SignedIn) -> None:
    staff = make_user(db, owner_a.business, email="s@coolair.example", role="staff")
    owner_a.client.post_form(f"/team/members/{staff.id}/remove", page="/team")  # type: ignore[attr-defined]

    forgot(client, "s@coolair.example")

    assert row_counts(db)["UserToken"] == 0


def test_two_requests_racing_with_one_reset_link_cannot_both_use_it(
    app: Flask, client, db: Session, owner_a: SignedIn
) -> None:
    forgot(client, owner_a.user.email)
    raw = last_email(db, to=owner_a.user.email).path("/password/reset/").rsplit("/", 1)[1]
    engine = app.extensions["db_engine"]

    with app.app_context(), Session(engine) as first, Session(engine) as second:
        # The second request has read the link as unused before the first one spends it.
        seen = second.exec(select(UserToken)).all()
        assert [t.used_at for t in seen] == [None]
        services.reset_password(session=first, token=raw, new_password=NEW_PASSWORD)
        first.commit()
        with pytest.raises(DomainError, match="already been used"):
            services.reset_password(session=second, token=raw, new_password="the attacker's one")
        second.rollback()

    assert verify_password(reload(db, owner_a.user).password_hash, NEW_PASSWORD)


class TestLinksIgnoreTheHostHeader:
    @pytest.fixture
    def app_overrides(self) -> dict[str, object]:
        return {"BASE_URL": "https://referral.example/app"}

    def test_a_reset_link_asked_for_through_another_host_still_points_at_base_url(
        self, client, db: Session, owner_a: SignedIn
    ) -> None:
        evil = "http://evil.example"
        page = client.get("/password/forgot", base_url=evil).get_data(as_text=True)
        token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]

        client.post(
            "/password/forgot",
            data={"email": owner_a.user.email, "csrf_token": token},
            base_url=evil,
        )

        link = last_email(db, to=owner_a.user.email).link("/password/reset/")
        assert link.startswith("https://referral.example/app/password/reset/")


# --- changing the password ----------------------------------------------------------------


def test_changing_the_password_needs_the_current_one_and_ends_other_sessions(
    app: Flask, db: Session, owner_a: SignedIn
) -> None:
    other_device = sign_in(app, owner_a.user)

    right = owner_a.client.post_form(  # type: ignore[attr-defined]
        "/account/password", {"current_password": PASSWORD, "password": NEW_PASSWORD}
    )

    assert right.status_code == 302
    assert is_signed_in(owner_a.client)  # this browser got a fresh session
    assert not is_signed_in(other_device)
    assert len(db.exec(select(LoginSession)).all()) == 1
    user = reload(db, owner_a.user)
    assert verify_password(user.password_hash, NEW_PASSWORD)
    assert user.password_changed_at is not None
    assert last_email(db, to=user.email).subject == "Your Referral password was changed"


@pytest.mark.parametrize(
    ("current", "new", "field", "message"),
    [
        ("not it at all", NEW_PASSWORD, "current_password", "This is not your current password."),
        (PASSWORD, "short", "password", "Use 10 to 128 characters."),
        (PASSWORD, "x" * 1000, "password", "Use 10 to 128 characters."),
        ("", NEW_PASSWORD, "current_password", "This is not your current password."),
    ],
)
def test_a_refused_password_change_changes_nothing(
    app: Flask, db: Session, owner_a: SignedIn, current: str, new: str, field: str, message: str
) -> None:
    other_device = sign_in(app, owner_a.user)
    before = row_counts(db)

    response = owner_a.client.post_form(  # type: ignore[attr-defined]
        "/account/password", {"current_password": current, "password": new}
    )

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="{field}-error">{message}' in html
    assert verify_password(reload(db, owner_a.user).password_hash, PASSWORD)
    assert row_counts(db) == before
    assert is_signed_in(owner_a.client) and is_signed_in(other_device)
