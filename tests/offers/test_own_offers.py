"""A business's own offers: a customer's yes opens an opportunity in its
pipeline (once); won, it is a job for that customer, so lifetime value counts
it as the next sale."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from sqlmodel import Session, select

from referral.analytics.lifetime import figures
from referral.customers.models import Customer, CustomerJob
from referral.customers.services import add_job
from referral.errors import DomainError, ValidationFailed
from referral.offers import services as offers
from referral.offers.landing import say_yes
from referral.offers.links import Source, offer_links
from referral.offers.models import Opportunity, SourceKind
from tests.support.offers import publish

FOLLOW_UP_3 = Source(SourceKind.FOLLOW_UP, 3)


def test_yes_opens_an_opportunity_won_as_the_customers_second_sale(
    app: Flask, db: Session, hvac, ana: Customer
) -> None:
    add_job(
        session=db,
        customer=ana,
        data={
            "job_date": dt.date(2026, 6, 1),
            "description": "AC install",
            "amount_cents": 500_000,
        },
    )
    plan = publish(db, hvac, kind="own", title="Service plan", benefit="Two tune-ups a year")
    with app.app_context():
        (link,) = offer_links(db, offers=[plan], customer=ana, source=FOLLOW_UP_3)
        token = link.url.rsplit("/o/", 1)[1]
        say_yes(db, token)
        say_yes(db, token)  # a double click
        db.commit()

    opportunity = db.exec(select(Opportunity)).one()
    assert (opportunity.status, opportunity.source_kind, opportunity.source_id) == (
        "open",
        "follow_up",
        3,
    )

    offers.win_opportunity(
        session=db,
        actor=hvac,
        opportunity_id=opportunity.id or 0,
        amount_cents=29_900,
        won_on=dt.date.today(),
    )
    db.commit()

    job = db.get(CustomerJob, opportunity.customer_job_id)
    assert job is not None and (job.customer_id, job.amount_cents) == (ana.id, 29_900)
    summary = figures(db, hvac.business_id).summary
    assert (summary.revenue_cents, summary.first_sale_cents, summary.back_end_cents) == (
        529_900,
        500_000,
        29_900,
    )


def test_a_lost_opportunity_records_no_sale_and_closed_ones_stay_closed(
    app: Flask, db: Session, hvac, ana: Customer
) -> None:
    plan = publish(db, hvac, kind="own", title="Service plan", benefit="Two tune-ups a year")
    with app.app_context():
        (link,) = offer_links(db, offers=[plan], customer=ana, source=FOLLOW_UP_3)
        say_yes(db, link.url.rsplit("/o/", 1)[1])
        db.commit()
    opportunity = db.exec(select(Opportunity)).one()

    offers.lose_opportunity(
        session=db, actor=hvac, opportunity_id=opportunity.id or 0, reason="Too expensive"
    )
    db.commit()

    assert opportunity.status == "lost" and db.exec(select(CustomerJob)).all() == []
    with pytest.raises(DomainError, match="already lost"):
        offers.win_opportunity(
            session=db,
            actor=hvac,
            opportunity_id=opportunity.id or 0,
            amount_cents=100,
            won_on=dt.date.today(),
        )


def test_bad_offers_and_amounts_name_the_field(app: Flask, db: Session, hvac) -> None:
    with pytest.raises(ValidationFailed) as refused:
        publish(
            db,
            hvac,
            title="",
            benefit="",
            zip_codes=["00000", "abc"],
            radius_miles=0,
            valid_until=dt.date.today() - dt.timedelta(days=10),
        )
    assert set(refused.value.errors) == {
        "title",
        "benefit",
        "zip_codes",
        "radius_miles",
        "valid_until",
    }
    db.rollback()
    assert offers.list_offers(session=db, business_id=hvac.business_id) == []
