"""A lead marketplace on the Stripe stand-in: a seller, buyers who can see its
leads and some who cannot, and a lead bought with a saved card."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from sqlmodel import Session

from referral.auth.models import User
from referral.customers.services import create_customer
from referral.leads import offers
from referral.leads.models import Lead, LeadPurchase
from tests.support.factories import business, sign_in
from tests.support.payments import connect_onboarded_account, eventually, save_card
from tests.support.stripe_pages import fresh
from tests.support.stripe_standin import StripeStandIn


class Market:
    """HVAC sells; two plumbers nearby can buy; a plumber in New York and an
    electrician nearby cannot see the lead."""

    def __init__(self, app: Flask, db: Session, standin: StripeStandIn) -> None:
        self.app, self.db, self.standin = app, db, standin
        with app.app_context():
            self.seller = business(db, "Cool Air HVAC", "hvac", "78701", "alex@coolair.example")
            self.buyer = business(db, "Drip Plumbing", "plumbing", "78704", "blair@drip.example")
            self.rival = business(db, "Pipe Pros", "plumbing", "78702", "casey@pipes.example")
            self.far = business(db, "NYC Plumbing", "plumbing", "10001", "dana@nyc.example")
            self.electric = business(
                db, "Spark Electric", "electrical", "78703", "eli@spark.example"
            )
            self.customer = create_customer(
                session=db,
                business_id=self.seller.business_id,
                data={
                    "name": "Ana Diaz",
                    "email": "ana@example.com",
                    "phone": "+15125550101",
                    "zip_code": "78704",
                },
            )
        connect_onboarded_account(db, standin, self.seller.business_id)
        for who in (self.buyer, self.rival):
            save_card(db, standin, who.business_id, f"{who.business_id}@x.example")
        db.commit()

    def more_buyers(self, count: int) -> list:  # type: ignore[type-arg]
        """More plumbers nearby, each with a saved card on the stand-in."""
        buyers = []
        for n in range(count):
            with self.app.app_context():
                who = business(self.db, f"Plumber {n}", "plumbing", "78705", f"p{n}@plumb.example")
            save_card(self.db, self.standin, who.business_id, f"p{n}@plumb.example")
            buyers.append(who)
        self.db.commit()
        return buyers

    def list(self, *, max_buyers: int = 1, consent_method: str = "attested_phone") -> Lead:
        with self.app.app_context():
            lead = offers.offer_lead(
                session=self.db,
                actor=self.seller,
                data=offers.NewLead(
                    customer_id=self.customer.id,
                    trade_id=self.buyer.business.trade_id,
                    need="Water heater leaking",
                    urgency="this_week",
                    zip_code="78704",
                    price_cents=4_500,
                    max_buyers=max_buyers,
                    expires_in_days=7,
                    consent_method=consent_method,
                    attested_on=dt.date.today() if consent_method != "email_link" else None,
                ),
            )
            self.db.commit()
        return lead

    def browser(self, who):  # type: ignore[no-untyped-def]
        return sign_in(self.app, self.db.get(User, who.user_id))


def bought(app, db, market, who=None) -> LeadPurchase:  # type: ignore[no-untyped-def]
    lead = market.list()
    client = market.browser(who or market.buyer)
    client.post_form(f"/leads/{lead.id}/buy", {"method": "saved_card"}, page=f"/leads/{lead.id}")
    return eventually(
        lambda: (p := fresh(db, LeadPurchase)) and p.status == "paid" and p, what="paid"
    )
