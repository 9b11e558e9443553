"""A plumber that publishes an offer to its partner's customers, the HVAC
business that holds a customer, and their active partnership (10% each way)."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlmodel import Session

from referral.customers.models import Customer
from referral.customers.services import create_customer
from referral.offers.models import Offer
from tests.support.factories import actor, agreed_partnership, make_business, make_user
from tests.support.offers import publish


@pytest.fixture
def hvac(db: Session):  # type: ignore[no-untyped-def]
    business = make_business(db, name="Cool Air HVAC", trade="hvac", zip_code="78701")
    return actor(make_user(db, business, email="alex@coolair.example"), business)


@pytest.fixture
def plumber(app: Flask, db: Session, hvac):  # type: ignore[no-untyped-def]
    business = make_business(db, name="Drip Plumbing", trade="plumbing", zip_code="78704")
    partner = actor(make_user(db, business, email="blair@drip.example"), business)
    with app.app_context():
        agreed_partnership(db, hvac, partner)
    return partner


@pytest.fixture
def ana(db: Session, hvac) -> Customer:  # type: ignore[no-untyped-def]
    customer = create_customer(
        session=db,
        business_id=hvac.business_id,
        data={"name": "Ana Diaz", "email": "ana@example.com", "zip_code": "78702"},
    )
    db.commit()
    return customer


@pytest.fixture
def drain_offer(db: Session, plumber) -> Offer:  # type: ignore[no-untyped-def]
    return publish(db, plumber)
