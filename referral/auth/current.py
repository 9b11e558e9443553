"""Who is asking: the signed-in user (pages) or the API key's business (API).

`g.user` is set for every page request; API requests are authenticated by
`api_key_required` alone, never by the cookie. What else a request knows of
its caller (`g.business`, the unread count) comes from the domains above auth,
loaded in the same one query: they register it with `load_with_user` and
`load_with_api_key` from a `reactions` module (referral/domains.py).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, abort, flash, g, redirect, request, session, url_for
from sqlalchemy import Select, bindparam, or_, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql import Executable
from sqlmodel import Session, SQLModel, select

from referral.auth.models import ApiKey, LoginSession, User
from referral.auth.services import business_verified
from referral.auth.tokens import hash_token
from referral.db import commits_itself, get_session, utcnow
from referral.longlived import warm_up_with

F = TypeVar("F", bound=Callable[..., Any])

SESSION_KEY = "sid"
TOUCH_EVERY = dt.timedelta(minutes=5)


def init_app(app: Flask) -> None:
    # First of all: a request refused before its view (too large, a bad CSRF
    # token) still gets a page with the signed-in menu.
    app.before_request_funcs.setdefault(None, []).insert(0, load_signed_in_user)
    app.jinja_env.globals["business_verified"] = current_business_verified


def current_business_verified() -> bool:
    """Whether the signed-in user's business may reach others yet (pages that
    would send something explain why not, and offer a new link)."""
    if "business_verified" not in g:
        business = g.get("business")
        g.business_verified = business is None or business_verified(get_session(), business.id)
    return bool(g.business_verified)


# `extend(query, business_id)`: the query with more columns, joined or
# correlated on the caller's business_id column.
Extend = Callable[[Select[Any], Any], Select[Any]]


@dataclass(frozen=True)
class _Load:
    names: tuple[str, ...]  # the `g` attributes, one per column `extend` adds
    extend: Extend


_WITH_USER: list[_Load] = []
_WITH_API_KEY: list[_Load] = []


def load_with_user(*names: str) -> Callable[[Extend], Extend]:
    """Register more of what every page loads with its signed-in user: the
    decorated `extend` adds one column per name, each value lands in
    `g.<name>` (None when nobody is signed in)."""

    def register(extend: Extend) -> Extend:
        _WITH_USER.append(_Load(names, extend))
        return extend

    return register


def load_with_api_key(*names: str) -> Callable[[Extend], Extend]:
    """As `load_with_user`, for every API call authenticated by a key."""

    def register(extend: Extend) -> Extend:
        _WITH_API_KEY.append(_Load(names, extend))
        return extend

    return register


def _extended(query: Select[Any], loads: list[_Load], business_id: Any) -> Select[Any]:
    for load in loads:
        query = load.extend(query, business_id)
    return query


def _names(loads: list[_Load]) -> list[str]:
    return [name for load in loads for name in load.names]


@functools.cache
def _login_lookup() -> Select[Any]:
    """Who is signed in, with all that was registered to load with them, in one
    query built once (after every domain registered): it runs on every page."""
    query = (
        select(LoginSession, User)
        .join(User, User.id == LoginSession.user_id)
        .where(LoginSession.token_hash == bindparam("token_hash"))
    )
    return _extended(query, _WITH_USER, User.business_id)


def load_signed_in_user() -> None:
    g.user = None
    for name in _names(_WITH_USER):
        setattr(g, name, None)
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
    login, g.user, *loaded = row
    for name, value in zip(_names(_WITH_USER), loaded, strict=True):
        setattr(g, name, value)
    if login.last_seen_at is None or now - login.last_seen_at > TOUCH_EVERY:
        touch(login, "last_seen_at", now, TOUCH_EVERY)


def touch(row: SQLModel, column_name: str, now: dt.datetime, every: dt.timedelta) -> None:
    """Record when a login or key was last used, in a statement that commits
    on its own (on PostgreSQL). As a change of the request's unit of work it
    was written with the request's first write and its row lock held until
    the request ended, so another request of the same key or login, touching
    it too, waited that long (61 ms seen in the soak). Of two at once, the
    second finds it fresh and writes nothing."""
    get_session().execute(
        _touch_statement(type(row), column_name),
        {"row_id": row.id, "stale": now - every, "now": now},  # type: ignore[attr-defined]
    )
    set_committed_value(row, column_name, now)  # as written: nothing left to flush


@functools.cache
def _touch_statement(model: type[SQLModel], column_name: str) -> Executable:
    column = getattr(model, column_name)
    return commits_itself(
        update(model)
        .where(model.id == bindparam("row_id"), or_(column.is_(None), column < bindparam("stale")))  # type: ignore[attr-defined]
        .values({column_name: bindparam("now")})
        .execution_options(synchronize_session=False)
    )


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
    once, as it runs on every API call. The key's creator comes with it: the
    key acts as them (`Actor.of_api_key` finds them in the session)."""
    query = (
        select(ApiKey, User)
        # A key dies with its creator's membership, even one not revoked yet.
        .join(User, User.id == ApiKey.created_by_id)
        .where(
            ApiKey.key_hash == bindparam("key_hash"),
            ApiKey.revoked_at.is_(None),
            User.disabled_at.is_(None),
        )
    )
    return _extended(query, _WITH_API_KEY, ApiKey.business_id)


@warm_up_with
def look_up_nobody(app: Flask) -> None:
    """Before a worker's first request: the two lookups that every page and
    every API call begins with compiled (for a login and a key that do not
    exist), so the first of each does not pay for it."""
    with Session(app.extensions["db_request_engine"]) as session:
        session.execute(_login_lookup(), {"token_hash": ""}).first()
        session.execute(_api_key_lookup(), {"key_hash": ""}).first()


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
        # The creator is held for the request: the session keeps a loaded row
        # only while something refers to it.
        g.api_key, g.api_key_creator, *loaded = row
        for name, value in zip(_names(_WITH_API_KEY), loaded, strict=True):
            setattr(g, name, value)
        g.user = None
        now = utcnow()
        if g.api_key.last_used_at is None or now - g.api_key.last_used_at > API_KEY_TOUCH_EVERY:
            touch(g.api_key, "last_used_at", now, API_KEY_TOUCH_EVERY)
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]
