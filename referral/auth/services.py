"""Accounts: owners who sign up, email verification, logging in and out, and passwords.

Tokens handed out in links are random; only their SHA-256 is stored, each is
single-use (spent by a conditional UPDATE, so two requests racing with one link
cannot both use it) and expires. Services flush; the request commits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import ColumnElement, delete, exists, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from referral.auth.links import absolute_url
from referral.auth.models import LoginSession, User, UserToken
from referral.auth.passwords import (
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)
from referral.auth.tokens import hash_token, new_token
from referral.auth.workplace import business_name
from referral.db import utcnow
from referral.errors import DomainError, PermissionDenied, ValidationFailed
from referral.mail.services import queue_email

VERIFY_EMAIL = "verify_email"
RESET_PASSWORD = "reset_password"
VERIFY_EMAIL_FOR = dt.timedelta(hours=48)
RESET_PASSWORD_FOR = dt.timedelta(hours=1)


# --- users ---------------------------------------------------------------------------------


VERIFY_FIRST = (
    "Confirm your email address first: until the owner does, your business can fill"
    " its profile, browse partners and add customers, but cannot send proposals,"
    " referrals, consent requests or lead listings, invite people or create API keys."
    " Look for our email, or ask for a new link."
)


def verified_owner(business_id: int) -> ColumnElement[bool]:
    """SQL for "an owner of the business (still a member) has confirmed their
    email address", to ask within a larger query."""
    return exists().where(
        User.business_id == business_id,
        User.role == "owner",
        User.email_verified_at.is_not(None),  # type: ignore[union-attr]
        User.disabled_at.is_(None),  # type: ignore[union-attr]
    )


def business_verified(session: Session, business_id: int) -> bool:
    """An owner of the business (still a member) has confirmed their email address."""
    return bool(session.scalar(select(verified_owner(business_id))))


def require_verified_business(session: Session, business_id: int) -> None:
    """Fails (PermissionDenied, 403) until an owner of the business confirmed
    their email: what reaches other businesses or people waits for it."""
    if not business_verified(session, business_id):
        raise PermissionDenied(VERIFY_FIRST)


def refuse_weak_password(password: str, *, email: str, business_name: str, name: str = "") -> None:
    """Fails (ValidationFailed on `password`, with the reason) for a common or
    breached password, or one containing the email's name or the business's
    name (auth.passwords.password_problem)."""
    problem = password_problem(password, email=email, business_name=business_name, name=name)
    if problem:
        raise ValidationFailed("Some fields are not valid.", errors={"password": [problem]})


def _refuse_weak_password_of(session: Session, user: User, password: str) -> None:
    refuse_weak_password(
        password,
        email=user.email,
        business_name=business_name(session, user.business_id),
        name=user.name,
    )


def normalise_email(email: str) -> str:
    """The one form an email is stored and looked up in: trimmed, lower-case."""
    return email.strip().lower()


def user_by_email(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == normalise_email(email))).first()


def duplicate_email() -> ValidationFailed:
    return ValidationFailed(
        "Some fields are not valid.",
        errors={"email": ["An account with this email already exists. Log in instead."]},
    )


def add_user(session: Session, user: User) -> User:
    """Insert a user. Fails (ValidationFailed on `email`) when the email is
    taken, including by a request that inserted it a moment ago."""
    if user_by_email(session, user.email) is not None:
        raise duplicate_email()
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:  # the unique index saw a concurrent sign-up
        raise duplicate_email() from exc
    return user


# --- sign-up and verification -------------------------------------------------------------


def add_owner(*, session: Session, business_id: int, email: str, name: str, password: str) -> User:
    """The owner of a business just signed up (businesses.signup), emailed a
    verification link. Fails (ValidationFailed on `email`) when it is taken."""
    owner = add_user(
        session,
        User(
            business_id=business_id,
            email=normalise_email(email),
            name=name,
            role="owner",
            password_hash=hash_password(password),
            password_changed_at=utcnow(),
        ),
    )
    send_verification_email(session=session, user=owner)
    return owner


def answer_signup_of_existing(*, session: Session, user: User, password: str) -> None:
    """Someone signed up with `user`'s email: spend a sign-up's time (so the
    answer does not tell), and email the account's owner a reset link."""
    hash_password(password)
    if user.disabled_at is None:
        _tell_of_signup_attempt(session, user)


def _tell_of_signup_attempt(session: Session, user: User) -> None:
    raw = _issue_token(session, user, RESET_PASSWORD, RESET_PASSWORD_FOR)
    queue_email(
        session,
        to=user.email,
        subject="Someone tried to sign up to Referral with your email address",
        template="signup_attempt",
        name=user.name,
        link=absolute_url("auth.reset_password", token=raw),
        minutes=int(RESET_PASSWORD_FOR.total_seconds() // 60),
    )


def _issue_token(session: Session, user: User, purpose: str, lifetime: dt.timedelta) -> str:
    """A new emailed-link token for `user`; returns the raw token (stored hashed)."""
    assert user.id is not None
    raw, digest = new_token()
    session.add(
        UserToken(
            user_id=user.id,
            purpose=purpose,
            token_hash=digest,
            sent_to=user.email,
            expires_at=utcnow() + lifetime,
        )
    )
    return raw


def _find_token(session: Session, raw: str, purpose: str) -> tuple[UserToken, User]:
    """The token and its user, if the link can still be used. Fails with a
    DomainError saying why not (unknown, used, expired, or the account changed)."""
    token = session.exec(
        select(UserToken).where(
            UserToken.token_hash == hash_token(raw), UserToken.purpose == purpose
        )
    ).first()
    if token is None:
        raise DomainError("This link is not valid. Ask for a new one.")
    if token.used_at is not None:
        raise DomainError("This link has already been used. Ask for a new one.")
    if token.expires_at <= utcnow():
        raise DomainError("This link has expired. Ask for a new one.")
    user = session.get(User, token.user_id)
    if user is None or user.disabled_at is not None or user.email != token.sent_to:
        raise DomainError("This link is not valid. Ask for a new one.")
    return token, user


def _spend_token(session: Session, raw: str, purpose: str) -> User:
    """Use a link once: the user it belongs to. Fails as `_find_token` does, and
    when another request spent it first."""
    token, user = _find_token(session, raw, purpose)
    spent = session.execute(
        update(UserToken)
        .where(UserToken.id == token.id, UserToken.used_at.is_(None))
        .values(used_at=utcnow())
    )
    if spent.rowcount != 1:
        raise DomainError("This link has already been used. Ask for a new one.")
    return user


def send_verification_email(*, session: Session, user: User) -> None:
    """Queue an email with a link that confirms the user's address (48 hours, once)."""
    raw = _issue_token(session, user, VERIFY_EMAIL, VERIFY_EMAIL_FOR)
    queue_email(
        session,
        to=user.email,
        subject="Confirm your email address for Referral",
        template="verify_email",
        name=user.name,
        link=absolute_url("auth.verify", token=raw),
        hours=int(VERIFY_EMAIL_FOR.total_seconds() // 3600),
    )


def verify_email(*, session: Session, token: str) -> User:
    """Mark the email verified. Fails on a used, expired or unknown link."""
    user = _spend_token(session, token, VERIFY_EMAIL)
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
    return user


# --- logging in and out -----------------------------------------------------------------


@dataclass(frozen=True)
class NewLogin:
    user: User
    token: str  # goes into the signed session cookie; only its hash is stored


def authenticate(*, session: Session, email: str, password: str) -> User | None:
    """The active user these credentials belong to, or None. An unknown email
    is checked against a dummy hash, so it takes as long as a wrong password."""
    user = user_by_email(session, email)
    if not verify_password(user.password_hash if user else None, password):
        return None
    assert user is not None
    if user.disabled_at is not None:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def login_session_lifetime() -> dt.timedelta:
    """As long as the session cookie lives (PERMANENT_SESSION_LIFETIME)."""
    return current_app.permanent_session_lifetime


def start_login_session(*, session: Session, user: User, user_agent: str = "") -> NewLogin:
    """A new signed-in browser for `user`, with a fresh random token."""
    assert user.id is not None
    raw, digest = new_token()
    now = utcnow()
    session.add(
        LoginSession(
            user_id=user.id,
            token_hash=digest,
            expires_at=now + login_session_lifetime(),
            last_seen_at=now,
            user_agent=user_agent[:255],
        )
    )
    return NewLogin(user=user, token=raw)


def end_login_session(*, session: Session, token: str) -> None:
    """Log out the browser holding `token`."""
    session.execute(delete(LoginSession).where(LoginSession.token_hash == hash_token(token)))


def end_all_login_sessions(*, session: Session, user: User) -> None:
    """Log the user out everywhere."""
    session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))


@dataclass(frozen=True)
class Purged:
    login_sessions: int
    tokens: int


def purge_expired_credentials(*, session: Session, now: dt.datetime | None = None) -> Purged:
    """Delete login sessions and emailed-link tokens past their expiry: they can
    never be used again, and the tables would otherwise only grow."""
    now = now or utcnow()
    logins = session.execute(delete(LoginSession).where(LoginSession.expires_at <= now))
    tokens = session.execute(delete(UserToken).where(UserToken.expires_at <= now))
    return Purged(login_sessions=logins.rowcount, tokens=tokens.rowcount)


# --- passwords ------------------------------------------------------------------------------


def request_password_reset(*, session: Session, email: str) -> None:
    """Email a reset link (1 hour, once) if an active account has this email;
    say nothing either way, so the answer does not reveal who has an account."""
    user = user_by_email(session, email)
    if user is None or user.disabled_at is not None:
        return
    raw = _issue_token(session, user, RESET_PASSWORD, RESET_PASSWORD_FOR)
    queue_email(
        session,
        to=user.email,
        subject="Reset your Referral password",
        template="reset_password",
        name=user.name,
        link=absolute_url("auth.reset_password", token=raw),
        minutes=int(RESET_PASSWORD_FOR.total_seconds() // 60),
    )


def check_reset_token(*, session: Session, token: str) -> None:
    """Fails (DomainError) when the reset link cannot be used; does not spend it,
    so opening the page (or a mail scanner fetching it) leaves it usable."""
    _find_token(session, token, RESET_PASSWORD)


def reset_password(*, session: Session, token: str, new_password: str) -> User:
    """Set a new password from an emailed link. Every login session of the user
    ends, other reset links stop working, and the user is told by email. The
    link proves the address, so it counts as verified. Fails on a bad link, and
    (ValidationFailed, before spending the link) on a weak password."""
    _token, holder = _find_token(session, token, RESET_PASSWORD)
    _refuse_weak_password_of(session, holder, new_password)
    user = _spend_token(session, token, RESET_PASSWORD)
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
    _set_password(session, user, new_password)
    return user


def change_password(
    *, session: Session, user: User, current_password: str, new_password: str
) -> None:
    """Change a signed-in user's password; all their login sessions end.
    Fails (ValidationFailed on current_password) when the current password is wrong."""
    if not verify_password(user.password_hash, current_password):
        raise ValidationFailed(
            "Some fields are not valid.",
            errors={"current_password": ["This is not your current password."]},
        )
    _refuse_weak_password_of(session, user, new_password)
    _set_password(session, user, new_password)


def _set_password(session: Session, user: User, new_password: str) -> None:
    now = utcnow()
    user.password_hash = hash_password(new_password)
    user.password_changed_at = now
    end_all_login_sessions(session=session, user=user)
    session.execute(
        update(UserToken)
        .where(
            UserToken.user_id == user.id,
            UserToken.purpose == RESET_PASSWORD,
            UserToken.used_at.is_(None),
        )
        .values(used_at=now)
    )
    queue_email(
        session,
        to=user.email,
        subject="Your Referral password was changed",
        template="password_changed",
        name=user.name,
        link=absolute_url("auth.forgot_password"),
    )
