"""The second sale: customers who bought again and how soon, split at the
business's first campaign; on the dashboard with its CSV, and in the API."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from sqlmodel import Session

from referral.analytics.second_sales import second_sales
from referral.businesses.models import Business
from referral.campaigns.models import Campaign, CampaignStatus
from referral.customers.services import add_job, create_customer
from tests.support.api import api_client
from tests.support.factories import make_business, make_user, sign_in


def _customer_with_jobs(db: Session, business: Business, name: str, *days: str) -> None:
    customer = create_customer(session=db, business_id=business.id or 0, data={"name": name})
    for day in days:
        add_job(
            session=db,
            customer=customer,
            data={
                "job_date": dt.date.fromisoformat(day),
                "description": "Job",
                "amount_cents": 10_000,
            },
        )


def _world(db: Session) -> Business:
    business = make_business(db, name="Cool Air HVAC")
    _customer_with_jobs(db, business, "Ann", "2026-01-01", "2026-01-31", "2026-06-01")  # 30 days
    _customer_with_jobs(db, business, "Bo", "2026-01-10")  # never again
    _customer_with_jobs(db, business, "Cy", "2026-03-11", "2026-03-01")  # 10 days, any order
    db.add(
        Campaign(
            business_id=business.id or 0,
            name="Spring",
            subject="Hi",
            body="Hello",
            status=CampaignStatus.SENT,
            started_at=dt.datetime(2026, 2, 15, 9, tzinfo=dt.UTC),
        )
    )
    other = make_business(db, name="Elsewhere")
    _customer_with_jobs(db, other, "Di", "2026-01-01", "2026-01-02")  # not this business's
    db.commit()
    return business


def test_customers_who_bought_again_and_how_soon_before_and_since_the_first_campaign(
    db: Session,
) -> None:
    business = _world(db)

    figure = second_sales(db, business.id or 0)

    assert figure.campaigns_since == dt.date(2026, 2, 15)
    assert [
        (c.label, c.customers, c.with_second_sale, c.median_days_to_second) for c in figure.cohorts
    ] == [
        ("All customers", 3, 2, 20),
        ("First sale before campaigns", 2, 1, 30),
        ("First sale since campaigns", 1, 1, 10),
    ]


def test_without_campaigns_there_is_one_cohort_and_without_customers_no_median(
    db: Session,
) -> None:
    lone = make_business(db, name="Lone")
    db.commit()

    figure = second_sales(db, lone.id or 0)

    assert figure.campaigns_since is None
    assert [(c.customers, c.median_days_to_second) for c in figure.cohorts] == [(0, None)]


def test_the_dashboard_draws_it_with_a_csv_and_the_api_answers_it(app: Flask, db: Session) -> None:
    business = _world(db)
    owner = make_user(db, business, email="owner@coolair.example")
    db.commit()
    browser = sign_in(app, owner)

    page = browser.get("/analytics").get_data(as_text=True)
    csv = browser.get("/analytics/second-sales.csv").get_data(as_text=True)
    answer = api_client(app, db, owner).get("/analytics/second-sales")

    assert "The second sale" in page and "First sale since campaigns" in page
    assert "First sale before campaigns,2,1,50.0%,30 days" in csv.replace("\r", "")
    assert answer.status_code == 200
    assert answer.json["cohorts"][2]["share"] == {"numerator": 1, "denominator": 1}
