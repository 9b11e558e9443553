"""Factories for test data: the one way to make a business and its users, a
partnership with chosen terms, a referral taken to accepted or won, and a
business ready to be paid or to pay; and signed-in owners of two businesses.

Factories write through a test's own session and commit, as a finished request
would (unless they say they only flush); they take keyword arguments for what a
test cares about and sensible defaults for the rest.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlmodel import Session, select

from referral.auth.models import User
from referral.auth.passwords import hash_password
from referral.businesses.actor import Actor
from referral.businesses.geo import locate_zip
from referral.businesses.models import Business, Trade
from referral.commissions.models import Commission
from referral.customers.services import create_customer
from referral.db import utcnow
from referral.partnerships import services as partnerships
from referral.partnerships.models import Partnership
from referral.partnerships.services import TermsPair
from referral.partnerships.terms import TermsOffer
from referral.payments.models import BillingProfile, ConnectedAccount
from referral.referrals import services as referrals
from referral.referrals.models import Referral
from referral.referrals.services import NewReferral

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


# --- terms, partnerships --------------------------------------------------------

TEN_PERCENT = TermsOffer(basis="percent", rate_bps=1000, hold_days=14, response_window_hours=48)
FIFTY_DOLLARS_PER_WIN = TermsOffer(
    basis="flat_per_won", flat_fee_cents=5000, hold_days=7, response_window_hours=24
)


def percent(bps: int, *, hold_days: int = 0, cap_cents: int | None = None) -> TermsOffer:
    return TermsOffer(basis="percent", rate_bps=bps, cap_cents=cap_cents, hold_days=hold_days)


def flat(cents: int, *, per: str = "won", hold_days: int = 0) -> TermsOffer:
    return TermsOffer(basis=f"flat_per_{per}", flat_fee_cents=cents, hold_days=hold_days)


def actor(user: User, business: Business) -> Actor:
    return Actor.of_user(user, business)


def user_of(db: Session, actor: Actor) -> User:
    """The user an actor acts as (to sign them in)."""
    user = db.get(User, actor.user_id)
    assert user is not None
    return user


def business(db: Session, name: str, trade: str, zip_code: str, email: str) -> Actor:
    company = make_business(db, name=name, trade=trade, zip_code=zip_code)
    return actor(make_user(db, company, email=email), company)


def partner_up(
    db: Session, a: Actor, b: Actor, *, a_pays: TermsOffer, b_pays: TermsOffer
) -> Partnership:
    """`a_pays`: what `a` pays `b` for each referral `b` sends; `b_pays` the other way."""
    partnership = partnerships.propose_partnership(
        session=db,
        actor=a,
        partner_id=b.business_id,
        terms=TermsPair(they_refer_to_me=a_pays, i_refer_to_them=b_pays),
    )
    partnerships.accept_proposal(session=db, actor=b, partnership_id=partnership.id)
    db.commit()
    return partnership


def terms(
    they_refer_to_me: TermsOffer = TEN_PERCENT, i_refer_to_them: TermsOffer = TEN_PERCENT
) -> TermsPair:
    return TermsPair(they_refer_to_me=they_refer_to_me, i_refer_to_them=i_refer_to_them)


def agreed_partnership(db: Session, proposer: Actor, partner: Actor) -> Partnership:
    """Active, 10% each way with a 14-day hold (the partnership tests' usual terms)."""
    return partner_up(db, proposer, partner, a_pays=TEN_PERCENT, b_pays=TEN_PERCENT)


# --- referrals, commissions, payment set-up --------------------------------------

_customers = iter(range(1, 10_000))


def accepted_referral(db: Session, sender: Actor, receiver: Actor) -> Referral:
    """A referral with attested consent, accepted by `receiver`."""
    referral = sent_referral(db, sender, receiver)
    referrals.accept_referral(session=db, actor=receiver, referral_id=referral.id)
    db.commit()
    return referral


def sent_referral(db: Session, sender: Actor, receiver: Actor) -> Referral:
    """A referral of a new customer with attested consent, sent to `receiver`
    (not committed)."""
    n = next(_customers)
    customer = create_customer(
        session=db,
        business_id=sender.business_id,
        data={"name": f"Customer {n}", "email": f"customer{n}@example.com"},
    )
    db.flush()
    referral = referrals.send_referral(
        session=db,
        actor=sender,
        data=NewReferral(
            partner_id=receiver.business_id,
            customer_id=customer.id,
            need="A job for the partner",
            urgency="this_week",
            consent_method="attested_phone",
            attested_on=dt.date.today(),
        ),
    )
    return referral


def won_referral(db: Session, sender: Actor, receiver: Actor, value_cents: int) -> Referral:
    referral = accepted_referral(db, sender, receiver)
    referrals.report_won(
        session=db,
        actor=receiver,
        referral_id=referral.id,
        job_value_cents=value_cents,
        job_date=dt.date(2026, 11, 21),
    )
    db.commit()
    return referral


def commission_of(db: Session, referral: Referral, **where: Any) -> Commission | None:
    query = select(Commission).where(Commission.referral_id == referral.id)
    for key, value in where.items():
        query = query.where(getattr(Commission, key) == value)
    return db.exec(query).first()


def ready_to_pay(db: Session, creditor_id: int, debtor_id: int) -> None:
    """The creditor can be paid (an onboarded account) and the debtor can pay
    (a saved card), as recorded after Stripe's hosted pages (flushed)."""
    db.add(
        ConnectedAccount(
            business_id=creditor_id,
            stripe_account_id=f"acct_{creditor_id}",
            charges_enabled=True,
            payouts_enabled=True,
            details_submitted=True,
        )
    )
    db.add(
        BillingProfile(
            business_id=debtor_id,
            stripe_customer_id=f"cus_{debtor_id}",
            payment_method_id=f"pm_{debtor_id}",
            card_brand="visa",
            card_last4="4242",
        )
    )
    db.flush()


def refer(db: Session, sender: Any, receiver: Any, customer_id: int, **kwargs: Any) -> Referral:
    """Send a referral as `sender` would, and commit (inside an app context)."""
    referral = referrals.send_referral(
        session=db,
        actor=sender,
        data=NewReferral(
            partner_id=receiver.business_id,
            customer_id=customer_id,
            need="Leaking water heater",
            urgency="this_week",
            **kwargs,
        ),
    )
    db.commit()
    return referral


# --- signed-in owners ---------------------------------------------------------------


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


def upload_customer_list(owner: SignedIn, text: str, filename: str = "customers.csv"):  # type: ignore[no-untyped-def]
    """Upload a customer list through the import page, as the owner's browser would."""
    client = owner.client
    return client.post(  # type: ignore[attr-defined]
        "/customers/import",
        data={
            "csrf_token": client.csrf_token("/customers/import"),  # type: ignore[attr-defined]
            "file": (io.BytesIO(text.encode()), filename),
        },
        content_type="multipart/form-data",
    )
