"""The offers and opportunities API: the same rules as the pages, 422 naming
the field, another business's objects a 404."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from sqlmodel import Session, select

from referral.auth.models import User
from referral.customers.models import Customer, CustomerJob
from referral.offers.landing import say_yes
from referral.offers.links import Source, offer_links
from referral.offers.models import Offer, Opportunity, SourceKind
from tests.support.api import api_client

TODAY = dt.date.today().isoformat()


def _api(app: Flask, db: Session, who):  # type: ignore[no-untyped-def]
    user = db.get(User, who.user_id)
    assert user is not None
    return api_client(app, db, user)


def test_publish_change_list_and_end_offers(app: Flask, db: Session, hvac, plumber) -> None:
    api = _api(app, db, plumber)

    created = api.post(
        "/offers",
        {
            "kind": "partner",
            "title": "First drain cleaning",
            "benefit": "10% off a first drain cleaning",
            "valid_from": TODAY,
            "zip_codes": ["78701"],
        },
    )
    offer_id = created.json["id"]
    changed = api.client.put(
        f"/api/v1/offers/{offer_id}",
        headers=api.headers,
        json={"kind": "own", "title": "Drain cleaning", "benefit": "15% off", "valid_from": TODAY},
    )
    seen_by_partner = _api(app, db, hvac).get("/offers/from-partners").json
    ended = api.post(f"/offers/{offer_id}/end")

    assert created.status_code == 201, created.json
    assert changed.status_code == 200 and changed.json["kind"] == "partner"  # the kind stays
    assert changed.json["benefit"] == "15% off"
    assert [(o["partner_name"], o["title"]) for o in seen_by_partner["items"]] == [
        ("Drip Plumbing", "Drain cleaning")
    ]
    assert ended.status_code == 200 and ended.json["ended_at"]
    assert api.get("/offers").json["total"] == 1


def test_bad_offers_are_422_naming_the_field_and_others_offers_404(
    app: Flask, db: Session, hvac, plumber
) -> None:
    api = _api(app, db, plumber)
    bad_dates = api.post(
        "/offers",
        {
            "kind": "own",
            "title": "Plan",
            "benefit": "x",
            "valid_from": TODAY,
            "valid_until": "2020-01-01",
        },
    )
    bad_zip = api.post(
        "/offers",
        {"kind": "own", "title": "Plan", "benefit": "x", "valid_from": TODAY, "zip_codes": ["1"]},
    )
    mine = api.post(
        "/offers", {"kind": "own", "title": "Plan", "benefit": "x", "valid_from": TODAY}
    )

    assert bad_dates.status_code == 422 and "valid_until" in bad_dates.json["errors"]
    assert bad_zip.status_code == 422 and "zip_codes" in bad_zip.json["errors"]
    other = _api(app, db, hvac)
    assert other.get(f"/offers/{mine.json['id']}").status_code == 404
    assert other.post(f"/offers/{mine.json['id']}/end").status_code == 404
    assert db.exec(select(Offer)).one().ended_at is None


def test_the_pipeline_wins_an_opportunity_as_a_job(
    app: Flask, db: Session, hvac, plumber, ana: Customer
) -> None:
    api = _api(app, db, hvac)
    offer_id = api.post(
        "/offers",
        {"kind": "own", "title": "Service plan", "benefit": "Two tune-ups", "valid_from": TODAY},
    ).json["id"]
    with app.app_context():
        offer = db.get(Offer, offer_id)
        (link,) = offer_links(
            db, offers=[offer], customer=ana, source=Source(SourceKind.CAMPAIGN, 4)
        )  # type: ignore[list-item]
        say_yes(db, link.url.rsplit("/o/", 1)[1])
        db.commit()
    opportunity = db.exec(select(Opportunity)).one()

    listed = api.get("/opportunities?status=open").json
    by_partner = _api(app, db, plumber).post(
        f"/opportunities/{opportunity.id}/won", {"amount_cents": 100, "won_on": TODAY}
    )
    float_amount = api.post(
        f"/opportunities/{opportunity.id}/won", {"amount_cents": 1.5, "won_on": TODAY}
    )
    won = api.post(
        f"/opportunities/{opportunity.id}/won", {"amount_cents": 29_900, "won_on": TODAY}
    )
    again = api.post(f"/opportunities/{opportunity.id}/lost", {"reason": "changed mind"})

    assert [o["id"] for o in listed["items"]] == [opportunity.id]
    assert by_partner.status_code == 404
    assert float_amount.status_code == 422 and "amount_cents" in float_amount.json["errors"]
    assert won.status_code == 200 and won.json["status"] == "won"
    assert again.status_code == 409
    job = db.exec(select(CustomerJob)).one()
    assert (job.id, job.amount_cents) == (won.json["customer_job_id"], 29_900)
