"""Who is asking: the signed-in user (pages) or the API key's business (API).

`g.user` and `g.business` are set for every page request; API requests are
authenticated by `api_key_required` alone, never by the cookie.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, abort, flash, g, redirect, request, session, url_for
from sqlalchemy import Select, bindparam, func
from sqlmodel import select

from referral.apikeys.models import ApiKey
from referral.auth.models import LoginSession, User
from referral.auth.tokens import hash_token
from referral.businesses.models import Business, Trade
from referral.db import get_session, utcnow

F = TypeVar("F", bound=Callable[..., Any])

SESSION_KEY = "sid"
TOUCH_EVERY = dt.timedelta(minutes=5)


def init_app(app: Flask) -> None:
    app.before_request(load_signed_in_user)


@functools.cache
def _login_lookup() -> Select[Any]:
    """Who is signed in, their business, and its unread notifications, in one
    query built once: it runs on every page."""
    from referral.notifications.models import Notification

    unread = (
        select(func.count())
        .select_from(Notification)
        .where(Notification.business_id == Business.id, Notification.read_at.is_(None))
        .correlate(Business)
        .scalar_subquery()
    )
    return (
        select(LoginSession, User, Business, unread)
        .join(User, User.id == LoginSession.user_id)
        .join(Business, Business.id == User.business_id)
        .where(LoginSession.token_hash == bindparam("token_hash"))
    )


def load_signed_in_user() -> None:
    g.user = None
    g.business = None
    if request.endpoint in (None, "static") or request.path.startswith("/api/"):
        return
    token = session.get(SESSION_KEY)
    if not token:
        return
    db = get_session()
    row = db.execute(_login_lookup(), {"token_hash": hash_token(token)}).first()
    now = utcnow()
    if row is None or row[0].expires_at <= now or row[1].disabled_at is not None:
        session.pop(SESSION_KEY, None)
        return
    login, g.user, g.business, g.unread_notifications = row
    if login.last_seen_at is None or now - login.last_seen_at > TOUCH_EVERY:
        login.last_seen_at = now


def login_required(view: F) -> F:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.get("user") is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def roles_required(*roles: str) -> Callable[[F], F]:
    """Only these roles may use the view; others see a flash and go home."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if g.user.role not in roles:
                flash("Your role does not allow that. Ask an owner of your business.", "error")
                return redirect(url_for("home.index"))
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate


def operator_required(view: F) -> F:
    @functools.wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not g.user.is_operator:
            abort(404)  # the operator pages do not exist for anyone else
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


API_KEY_TOUCH_EVERY = dt.timedelta(minutes=1)


@functools.cache
def _api_key_lookup() -> Select[Any]:
    """One query answers "who is this" with what every API answer shows; built
    once, as it runs on every API call."""
    return (
        select(ApiKey, Business, Trade)
        .join(Business, Business.id == ApiKey.business_id)
        .join(Trade, Trade.id == Business.trade_id)
        .where(ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked_at.is_(None))
    )


def api_key_required(view: F) -> F:
    """Authenticate an API call by `Authorization: Bearer <key>`; 401 otherwise."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            abort(401, "Send an API key as 'Authorization: Bearer <key>'.")
        db = get_session()
        row = db.execute(_api_key_lookup(), {"key_hash": hash_token(raw.strip())}).first()
        if row is None:
            abort(401, "The API key is not valid or has been revoked.")
        g.api_key, g.business, g.trade = row
        g.user = None
        now = utcnow()
        if g.api_key.last_used_at is None or now - g.api_key.last_used_at > API_KEY_TOUCH_EVERY:
            g.api_key.last_used_at = now
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]
