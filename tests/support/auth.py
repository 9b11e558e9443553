"""What account tests check again and again: which rows exist, and reading cookies."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func
from sqlmodel import Session, select

from referral.auth.models import Invitation, LoginSession, User, UserToken
from referral.businesses.models import Business
from referral.jobs.models import Job

ACCOUNT_TABLES = (Business, User, LoginSession, UserToken, Invitation, Job)


def row_counts(db: Session) -> dict[str, int]:
    """How many rows each account table holds (jobs include queued emails)."""
    db.expire_all()
    return {
        table.__name__: db.scalar(select(func.count()).select_from(table)) or 0
        for table in ACCOUNT_TABLES
    }


def session_cookie(app: Flask, client) -> str:  # type: ignore[no-untyped-def]
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None, "no session cookie"
    return cookie.value


def browser_with_cookie(app: Flask, value: str):  # type: ignore[no-untyped-def]
    """A fresh browser that presents a session cookie copied from another one."""
    client = app.test_client()
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], value)
    return client


def is_signed_in(client) -> bool:  # type: ignore[no-untyped-def]
    """Signed-in pages answer; otherwise they redirect to the login page."""
    return client.get("/team").status_code == 200
