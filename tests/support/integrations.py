"""Parties with API keys, referrals between them and webhook endpoints, for the
integration tests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlmodel import Session

from referral.auth.apikeys.services import create_api_key
from referral.businesses.actor import Actor
from referral.referrals import services as referrals
from referral.referrals.models import Referral
from referral.referrals.services import NewReferral
from tests.support.factories import actor, make_business, make_user
from tests.support.webhook_receiver import Receiver

CUSTOMER = {"name": "Ana Diaz", "email": "ana@example.com", "phone": "+15125550101"}


@dataclass
class Party:
    actor: Actor
    api_key: str
    email: str

    @property
    def business_id(self) -> int:
        return self.actor.business_id

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


def make_party(app: Flask, db: Session, name: str, trade: str, zip_code: str, email: str) -> Party:
    business = make_business(db, name=name, trade=trade, zip_code=zip_code)
    user = make_user(db, business, email=email)
    with app.app_context():
        issued = create_api_key(session=db, actor=user, name="Field service sync")
        db.commit()
    return Party(actor(user, business), issued.secret, email)


def refer(app: Flask, db: Session, sender: Party, receiver: Party, customer_id: int) -> Referral:
    """A referral with consent attested by phone: it reaches the partner at once."""
    with app.app_context():
        referral = referrals.send_referral(
            session=db,
            actor=sender.actor,
            data=NewReferral(
                partner_id=receiver.business_id,
                customer_id=customer_id,
                need="Leaking water heater",
                urgency="this_week",
                consent_method="attested_phone",
                attested_on=dt.date(2026, 11, 20),
            ),
        )
        db.commit()
    return referral


def add_endpoint(
    app: Flask, party: Party, receiver: Receiver, types: list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    """Add an endpoint through the API and point the receiver at its secret."""
    from referral.events.models import EVENT_TYPES

    response = app.test_client().post(
        "/api/v1/webhook-endpoints",
        json={"url": receiver.url, "event_types": types or list(EVENT_TYPES), **extra},
        headers=party.headers(),
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    receiver.secret = response.json["secret"]
    return response.json  # type: ignore[no-any-return]
