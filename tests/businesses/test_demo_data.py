"""`referral demo`: a dozen believable Austin businesses with owners who can
log in, and an operator; running it again adds nothing."""

from __future__ import annotations

import phonenumbers
from flask import Flask
from sqlalchemy import func
from sqlmodel import Session, SQLModel, select

from referral.auth.models import User
from referral.auth.passwords import verify_password
from referral.businesses.geo import distance_miles, locate_zip
from referral.businesses.models import Business, Trade
from referral.campaigns.models import FollowUpRule
from referral.demo import DEMO_PASSWORD, OPERATOR_EMAIL, slug_of
from referral.offers.models import Offer

DEMO_TRADES = {
    "hvac",
    "plumbing",
    "electrical",
    "carpet-cleaning",
    "remodeling",
    "landscaping",
    "roofing",
    "pest-control",
    "painting",
    "pool-service",
    "handyman",
    "house-cleaning",
}


def row_counts(db: Session) -> dict[str, int]:
    return {
        table.name: db.scalar(select(func.count()).select_from(table)) or 0
        for table in SQLModel.metadata.sorted_tables
    }


def test_the_demo_businesses_are_austin_businesses_of_a_dozen_trades(
    app: Flask, db: Session
) -> None:
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output

    rows = db.exec(select(Business, Trade).join(Trade, Trade.id == Business.trade_id)).all()
    assert {trade.slug for _, trade in rows} == DEMO_TRADES and len(rows) == 12
    downtown = locate_zip("78701")
    assert downtown is not None
    for business, _ in rows:
        centre = locate_zip(business.zip_code)
        assert centre is not None and centre.state == "TX"
        assert (business.latitude, business.longitude) == (centre.latitude, centre.longitude)
        assert (
            distance_miles(downtown.latitude, downtown.longitude, centre.latitude, centre.longitude)
            < 30
        )
        assert 15 <= business.radius_miles <= 40
        assert business.description
        assert phonenumbers.is_valid_number(phonenumbers.parse(business.phone))
        assert business.phone.startswith("+1512555")
        assert business.website == f"https://{slug_of(business.name)}.example"


def test_every_demo_owner_and_the_operator_can_log_in_with_the_printed_password(
    app: Flask, db: Session
) -> None:
    result = app.test_cli_runner().invoke(args=["demo"])

    assert f"the password {DEMO_PASSWORD}" in result.output
    for business in db.exec(select(Business)):
        owners = db.exec(select(User).where(User.business_id == business.id)).all()
        owner = next(u for u in owners if u.role == "owner")
        assert owner.email == f"owner@{slug_of(business.name)}.example"
        assert owner.email in result.output
        assert owner.email_verified_at is not None and not owner.is_operator
        assert verify_password(owner.password_hash, DEMO_PASSWORD)
    operator = db.exec(select(User).where(User.email == OPERATOR_EMAIL)).one()
    assert operator.is_operator and operator.email_verified_at is not None
    assert verify_password(operator.password_hash, DEMO_PASSWORD)
    assert OPERATOR_EMAIL in result.output


def test_running_the_demo_again_adds_nothing_and_says_so(app: Flask, db: Session) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo"])
    after_first = row_counts(db)

    second = runner.invoke(args=["demo"])

    assert first.exit_code == second.exit_code == 0
    assert second.output.startswith("Demo data already present.")
    assert row_counts(db) == after_first
    assert after_first["business"] == 12 and after_first["user_account"] == 13


def test_lone_star_runs_a_follow_up_rule_with_its_service_plan(app: Flask, db: Session) -> None:
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output

    [rule] = db.exec(select(FollowUpRule)).all()
    [plan] = db.exec(select(Offer).where(Offer.kind == "own")).all()
    owner = db.get(Business, rule.business_id)
    assert owner is not None and owner.name == "Lone Star Comfort Air"
    assert rule.active and rule.offer_ids == [plan.id] and plan.business_id == owner.id
