"""A known history for the dashboard tests.

Cool Air HVAC partners with Drip Plumbing (10% each way) and Spark Electric
(a $150 flat fee per won job, paid to HVAC). HVAC sent six referrals and
received two; it also did two jobs of its own for Ana."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session

from referral.commissions import services as commissions
from referral.customers.models import CustomerJob
from referral.customers.services import create_customer
from referral.db import utcnow
from referral.referrals import services as referrals
from referral.referrals.services import NewReferral
from tests.support.factories import business, flat, partner_up, percent

HOUR = dt.timedelta(hours=1)


class History:
    def __init__(self, db: Session) -> None:
        self.db = db
        self.hvac = business(db, "Cool Air HVAC", "hvac", "78701", "alex@coolair.example")
        self.plumber = business(db, "Drip Plumbing", "plumbing", "78704", "blair@drip.example")
        self.electric = business(db, "Spark Electric", "electrical", "78702", "sam@spark.example")
        self.p1 = partner_up(
            db, self.plumber, self.hvac, a_pays=percent(1000), b_pays=percent(1000)
        )
        self.p2 = partner_up(
            db, self.electric, self.hvac, a_pays=flat(15_000), b_pays=percent(1000)
        )
        self.ana = self.customer(self.hvac, "Ana Diaz")
        self.ben = self.customer(self.hvac, "Ben Ortiz")
        db.add(
            CustomerJob(
                business_id=self.hvac.business_id,
                customer_id=self.ana.id,
                job_date=dt.date(2025, 1, 10),
                description="Tune-up",
                amount_cents=20_000,
            )
        )
        db.add(
            CustomerJob(
                business_id=self.hvac.business_id,
                customer_id=self.ana.id,
                job_date=dt.date(2026, 2, 1),
                description="Repair",
                amount_cents=30_000,
            )
        )

    def customer(self, owner, name: str):  # type: ignore[no-untyped-def]
        customer = create_customer(
            session=self.db,
            business_id=owner.business_id,
            data={"name": name, "email": f"{name.split()[0].lower()}@example.com"},
        )
        self.db.flush()
        return customer

    def refer(self, sender, receiver, customer, *, consent: bool = True):  # type: ignore[no-untyped-def]
        return referrals.send_referral(
            session=self.db,
            actor=sender,
            data=NewReferral(
                partner_id=receiver.business_id,
                customer_id=customer.id,
                need="A job",
                urgency="this_week",
                consent_method="attested_phone" if consent else "email_link",
                attested_on=dt.date.today() if consent else None,
            ),
        )

    def accept(self, referral, receiver, after_hours: int):  # type: ignore[no-untyped-def]
        referrals.accept_referral(session=self.db, actor=receiver, referral_id=referral.id)
        # History happened over the last three days, at known intervals.
        referral.sent_at = utcnow() - 72 * HOUR
        referral.accepted_at = referral.sent_at + after_hours * HOUR

    def win(self, referral, receiver, cents: int, after_hours: int, day: dt.date):  # type: ignore[no-untyped-def]
        referrals.report_won(
            session=self.db,
            actor=receiver,
            referral_id=referral.id,
            job_value_cents=cents,
            job_date=day,
        )
        referral.closed_at = referral.sent_at + after_hours * HOUR


def build_history(db: Session) -> History:
    h = History(db)
    hvac, plumber, electric = h.hvac, h.plumber, h.electric
    # Sent to the plumber: won, lost, declined, never consented.
    r1 = h.refer(hvac, plumber, h.ana)
    h.accept(r1, plumber, 2)
    h.win(r1, plumber, 100_000, 50, dt.date(2026, 11, 21))
    r2 = h.refer(hvac, plumber, h.customer(hvac, "Cal Reyes"))
    h.accept(r2, plumber, 4)
    referrals.report_lost(session=db, actor=plumber, referral_id=r2.id)
    r3 = h.refer(hvac, plumber, h.customer(hvac, "Dee Park"))
    referrals.decline_referral(session=db, actor=plumber, referral_id=r3.id)
    h.refer(hvac, plumber, h.customer(hvac, "Eve Lin"), consent=False)
    # Sent to the electrician: won (then $400 refunded), and accepted.
    r5 = h.refer(hvac, electric, h.ben)
    h.accept(r5, electric, 6)
    h.win(r5, electric, 200_000, 30, dt.date(2026, 11, 22))
    commissions.report_refund(
        session=db, business_id=electric.business_id, referral_id=r5.id, refund_cents=40_000
    )
    r6 = h.refer(hvac, electric, h.customer(hvac, "Fay Moss"))
    h.accept(r6, electric, 10)
    # Received from the plumber: won $3,000, and declined.
    r7 = h.refer(plumber, hvac, h.customer(plumber, "Gus Hale"))
    h.accept(r7, hvac, 1)
    h.win(r7, hvac, 300_000, 20, dt.date(2026, 11, 23))
    r8 = h.refer(plumber, hvac, h.customer(plumber, "Hal Ito"))
    referrals.decline_referral(session=db, actor=hvac, referral_id=r8.id)
    db.commit()
    return h
