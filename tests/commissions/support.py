"""Partners with chosen terms, and referrals taken to won, for money tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session, select

from referral.commissions.models import Commission
from referral.customers.services import create_customer
from referral.partnerships import services as partnerships
from referral.partnerships.models import Partnership
from referral.partnerships.services import Actor, TermsPair
from referral.partnerships.terms import TermsOffer
from referral.referrals import services as referrals
from referral.referrals.models import Referral
from referral.referrals.services import NewReferral
from tests.factories import make_business, make_user
from tests.partnerships.support import actor


def percent(bps: int, *, hold_days: int = 0, cap_cents: int | None = None) -> TermsOffer:
    return TermsOffer(basis="percent", rate_bps=bps, cap_cents=cap_cents, hold_days=hold_days)


def flat(cents: int, *, per: str = "won", hold_days: int = 0) -> TermsOffer:
    return TermsOffer(basis=f"flat_per_{per}", flat_fee_cents=cents, hold_days=hold_days)


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


_customers = iter(range(1, 10_000))


def accepted_referral(db: Session, sender: Actor, receiver: Actor) -> Referral:
    """A referral with attested consent, accepted by `receiver`."""
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
            attested_on=dt.date(2026, 11, 20),
        ),
    )
    referrals.accept_referral(session=db, actor=receiver, referral_id=referral.id)
    db.commit()
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
