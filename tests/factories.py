"""Factories for test data, and signed-in users of two businesses.

Factories write through a test's own session and commit, as a finished request
would; they take keyword arguments for what a test cares about and sensible
defaults for the rest.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
from flask import Flask
from sqlmodel import Session, select

from referral.auth.models import User
from referral.auth.passwords import hash_password
from referral.businesses.geo import locate_zip
from referral.businesses.models import Business, Trade
from referral.db import utcnow

PASSWORD = "correct horse battery"
_serial = itertools.count(1)


def trade_id(session: Session, slug: str) -> int:
    trade = session.exec(select(Trade).where(Trade.slug == slug)).one()
    assert trade.id is not None
    return trade.id


def make_business(
    session: Session,
    *,
    name: str | None = None,
    trade: str = "hvac",
    zip_code: str = "78701",
    radius_miles: int = 25,
    **fields: object,
) -> Business:
    centre = locate_zip(zip_code)
    assert centre is not None, zip_code
    business = Business(
        name=name or f"Business {next(_serial)}",
        trade_id=trade_id(session, trade),
        zip_code=zip_code,
        latitude=centre.latitude,
        longitude=centre.longitude,
        radius_miles=radius_miles,
        **fields,
    )
    session.add(business)
    session.commit()
    return business


def make_user(
    session: Session,
    business: Business,
    *,
    email: str | None = None,
    name: str = "Pat Owner",
    role: str = "owner",
    password: str = PASSWORD,
    verified: bool = True,
    **fields: object,
) -> User:
    user = User(
        business_id=business.id,
        email=email or f"user{next(_serial)}@example.com",
        name=name,
        role=role,
        password_hash=hash_password(password),
        email_verified_at=utcnow() if verified else None,
        **fields,
    )
    session.add(user)
    session.commit()
    return user


@dataclass
class SignedIn:
    """A business, one of its users, and a browser-like client signed in as them."""

    business: Business
    user: User
    client: object


def sign_in(app: Flask, user: User, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    client = app.test_client()
    response = client.post_form(  # type: ignore[attr-defined]
        "/login", {"email": user.email, "password": password}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture
def owner_a(app: Flask, db: Session) -> SignedIn:
    business = make_business(db, name="Cool Air HVAC", trade="hvac", zip_code="78701")
    user = make_user(db, business, email="owner@coolair.example.com", name="Alex Cool")
    return SignedIn(business, user, sign_in(app, user))


@pytest.fixture
def owner_b(app: Flask, db: Session) -> SignedIn:
    business = make_business(db, name="Drip Plumbing", trade="plumbing", zip_code="78704")
    user = make_user(db, business, email="owner@drip.example.com", name="Blair Drip")
    return SignedIn(business, user, sign_in(app, user))
