"""Two partners (HVAC refers to plumbing) and a customer of the HVAC business."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlmodel import Session

from referral.customers.services import create_customer
from tests.support.factories import actor, agreed_partnership, make_business, make_user


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
def customer_id(db: Session, hvac) -> int:  # type: ignore[no-untyped-def]
    customer = create_customer(
        session=db,
        business_id=hvac.business_id,
        data={"name": "Ana Diaz", "email": "ana@example.com", "phone": "+15125550101"},
    )
    db.commit()
    assert customer.id is not None
    return customer.id
