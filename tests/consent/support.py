"""A referring business, its partner and a customer, for the consent tests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import Flask
from sqlmodel import Session

from referral.businesses.actor import Actor
from referral.customers.models import Customer
from referral.customers.services import create_customer
from referral.leads import offers
from referral.leads.models import Lead
from referral.offers.links import Source, offer_links
from referral.offers.models import SourceKind
from referral.payments.models import ConnectedAccount
from referral.referrals import services as referrals
from referral.referrals.models import Referral
from referral.referrals.services import NewReferral
from tests.support.factories import actor, agreed_partnership, make_business, make_user, trade_id
from tests.support.offers import publish

CUSTOMER_EMAIL = "marisol@customer.example"
NEED = "Replace the water heater"


@dataclass
class Parties:
    sender: Actor  # Sunny HVAC, which holds the customer
    receiver: Actor  # Brook Plumbing
    customer: Customer


def parties(app: Flask, db: Session) -> Parties:
    sunny = make_business(db, name="Sunny HVAC", trade="hvac", zip_code="78701")
    brook = make_business(db, name="Brook Plumbing", trade="plumbing", zip_code="78704")
    sender = actor(make_user(db, sunny, email="sam@sunny.example", name="Sam Sunny"), sunny)
    receiver = actor(make_user(db, brook, email="bo@brook.example", name="Bo Brook"), brook)
    with app.app_context():
        agreed_partnership(db, sender, receiver)
    customer = create_customer(
        session=db,
        business_id=sender.business_id,
        data={
            "name": "Marisol Quintanilla",
            "email": CUSTOMER_EMAIL,
            "phone": "+15125550177",
            "address": "12 Cedar Bend",
            "zip_code": "78704",
        },
    )
    db.add(
        ConnectedAccount(
            business_id=sender.business_id,
            stripe_account_id="acct_consent_sunny",
            details_submitted=True,
            charges_enabled=True,
            payouts_enabled=True,
        )
    )
    db.commit()
    return Parties(sender, receiver, customer)


def refer(
    app: Flask, db: Session, p: Parties, method: str, attested_on: dt.date | None = None
) -> Referral:
    with app.app_context():
        referral = referrals.send_referral(
            session=db,
            actor=p.sender,
            data=NewReferral(
                partner_id=p.receiver.business_id,
                customer_id=p.customer.id,  # type: ignore[arg-type]
                need=NEED,
                urgency="this_week",
                consent_method=method,
                attested_on=attested_on,
            ),
        )
        db.commit()
    return referral


def offer_lead(
    app: Flask, db: Session, p: Parties, method: str, attested_on: dt.date | None = None
) -> Lead:
    with app.app_context():
        lead = offers.offer_lead(
            session=db,
            actor=p.sender,
            data=offers.NewLead(
                customer_id=p.customer.id,  # type: ignore[arg-type]
                trade_id=trade_id(db, "plumbing"),
                need=NEED,
                urgency="this_week",
                zip_code="78704",
                price_cents=5_000,
                max_buyers=1,
                expires_in_days=7,
                consent_method=method,
                attested_on=attested_on,
            ),
        )
        db.commit()
    return lead


def click_partner_offer(app: Flask, db: Session, p: Parties) -> None:
    """The receiver publishes an offer to its partners' customers, the sender
    puts it in an email, and the customer says yes on its page."""
    offer = publish(db, p.receiver, title=NEED)
    with app.app_context():
        (link,) = offer_links(
            db, offers=[offer], customer=p.customer, source=Source(SourceKind.CAMPAIGN, 5)
        )
    path = "/o/" + link.url.rsplit("/o/", 1)[1]
    answered = app.test_client().post_form(path)
    assert answered.status_code == 200 and "will contact you" in answered.get_data(as_text=True)
