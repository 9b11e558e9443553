"""Local time: a business reads every time in its own zone, with the zone's
abbreviation (its ZIP code's zone unless it picked another in its profile);
its monthly statement runs midnight to midnight there; the API stays UTC."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlmodel import Session, select

from referral.auth.apikeys.services import create_api_key
from referral.auth.models import User
from referral.businesses.geo import zone_for_zip
from referral.businesses.models import Business
from referral.commissions.models import Commission
from referral.consent.models import ConsentRecord
from referral.consent.services import withdrawal_link
from referral.localtime import format_datetime, zone
from tests.support.factories import (
    accepted_referral,
    business,
    partner_up,
    percent,
    sign_in,
    won_referral,
)

CHICAGO = zone("America/Chicago")


@pytest.mark.parametrize(
    ("utc", "shown"),
    [
        # Spring forward in 2026: 2:00 CST becomes 3:00 CDT on 8 March.
        (dt.datetime(2026, 3, 8, 7, 59, tzinfo=dt.UTC), "2026-03-08 01:59 CST"),
        (dt.datetime(2026, 3, 8, 8, 0, tzinfo=dt.UTC), "2026-03-08 03:00 CDT"),
        # Fall back on 1 November: 1:30 happens twice, first CDT then CST.
        (dt.datetime(2026, 11, 1, 6, 30, tzinfo=dt.UTC), "2026-11-01 01:30 CDT"),
        (dt.datetime(2026, 11, 1, 7, 30, tzinfo=dt.UTC), "2026-11-01 01:30 CST"),
        # The example: 14:32 UTC is 08:32 in Austin in winter.
        (dt.datetime(2026, 12, 2, 14, 32, tzinfo=dt.UTC), "2026-12-02 08:32 CST"),
    ],
)
def test_times_cross_daylight_saving_transitions_with_the_right_abbreviation(
    utc: dt.datetime, shown: str
) -> None:
    assert format_datetime(utc, CHICAGO) == shown


def test_a_business_takes_its_zip_codes_zone_unless_it_picked_one() -> None:
    assert zone_for_zip("78701") == "America/Chicago"
    assert zone_for_zip("94103") == "America/Los_Angeles"
    assert zone_for_zip("99999") is None
    austin = Business(
        name="A", trade_id=1, zip_code="78701", latitude=0, longitude=0, radius_miles=5
    )
    assert austin.zone_name == "America/Chicago"
    austin.time_zone = "America/Denver"
    assert austin.zone_name == "America/Denver"


def create_api_key_for(app: Flask, db: Session, who) -> str:  # type: ignore[no-untyped-def]
    with app.app_context():
        key = create_api_key(session=db, actor=db.get(User, who.user_id), name="zone").secret
    db.commit()
    return key


def test_pages_show_times_in_the_zone_picked_in_the_profile(app: Flask, db: Session) -> None:
    hvac = business(db, "Zone HVAC", "hvac", "78701", "zone@hvac.example")
    plumber = business(db, "Zone Plumbing", "plumbing", "78704", "zone@plumbing.example")
    with app.app_context():
        partner_up(db, plumber, hvac, a_pays=percent(1000), b_pays=percent(1000))
        referral = won_referral(db, hvac, plumber, 125_000)
    referral.sent_at = dt.datetime(2026, 7, 4, 17, 5, tzinfo=dt.UTC)
    db.add(referral)
    db.commit()
    browser = sign_in(app, db.get(User, plumber.user_id))

    inbox = browser.get("/referrals/inbox").get_data(as_text=True)
    assert "2026-07-04 12:05 CDT" in inbox and "17:05 UTC" not in inbox

    profile = browser.get("/business/profile").get_data(as_text=True)
    assert "From my ZIP code (America/Chicago)" in profile
    form = {
        "name": "Zone Plumbing",
        "trade": "plumbing",
        "zip_code": "78704",
        "radius_miles": "25",
        "time_zone": "America/Los_Angeles",
        "website": "zoneplumbing.example",
    }
    assert browser.post_form("/business/profile", form).status_code == 302
    saved = db.exec(
        select(Business)
        .where(Business.id == plumber.business_id)
        .execution_options(populate_existing=True)
    ).one()
    assert (saved.time_zone, saved.website) == (
        "America/Los_Angeles",
        "https://zoneplumbing.example",
    )
    assert "2026-07-04 10:05 PDT" in browser.get("/referrals/inbox").get_data(as_text=True)

    refused = browser.post_form("/business/profile", {**form, "time_zone": "Mars/Olympus"})
    assert refused.status_code == 422
    assert "Choose a time zone from the list." in refused.get_data(as_text=True)

    # The API keeps ISO-8601 UTC.
    key = create_api_key_for(app, db, plumber)
    api = browser.get(
        f"/api/v1/referrals/{referral.id}", headers={"Authorization": f"Bearer {key}"}
    )
    assert api.json["sent_at"] in ("2026-07-04T17:05:00+00:00", "2026-07-04T17:05:00Z")


def test_the_monthly_statement_runs_midnight_to_midnight_local_time(
    app: Flask, db: Session
) -> None:
    hvac = business(db, "Month HVAC", "hvac", "78701", "month@hvac.example")
    plumber = business(db, "Month Plumbing", "plumbing", "78704", "month@plumbing.example")
    with app.app_context():
        partner_up(db, plumber, hvac, a_pays=percent(1000), b_pays=percent(1000))
        won_referral(db, hvac, plumber, 125_000)
    commission = db.exec(select(Commission)).one()
    # 03:00 UTC on 1 December is 21:00 on 30 November in Austin.
    commission.created_at = dt.datetime(2026, 12, 1, 3, 0, tzinfo=dt.UTC)
    db.add(commission)
    db.commit()
    browser = sign_in(app, db.get(User, hvac.user_id))

    november = browser.get("/statements.csv?month=2026-11").get_data(as_text=True)
    december = browser.get("/statements.csv?month=2026-12").get_data(as_text=True)
    assert "2026-11-30,commission earned" in november
    assert "commission earned" not in december


def test_a_customer_reads_times_in_the_referring_business_zone(app: Flask, db: Session) -> None:
    hvac = business(db, "Coast HVAC", "hvac", "78701", "coast@hvac.example")
    plumber = business(db, "Coast Plumbing", "plumbing", "78704", "coast@plumbing.example")
    referrer = db.get(Business, hvac.business_id)
    assert referrer is not None
    referrer.time_zone = "America/New_York"  # the receiver stays in Austin's zone
    db.add(referrer)
    with app.app_context():
        partner_up(db, hvac, plumber, a_pays=percent(1000), b_pays=percent(1000))
        referral = accepted_referral(db, hvac, plumber)
    record = db.exec(select(ConsentRecord).where(ConsentRecord.referral_id == referral.id)).one()
    with app.app_context():
        link = withdrawal_link(record)

    page = app.test_client().get(urlsplit(link).path).get_data(as_text=True)
    recorded = format_datetime(record.created_at, zone("America/New_York"))
    assert recorded.endswith((" EST", " EDT")) and recorded in page
