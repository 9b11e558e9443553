"""Trades and competition are data an operator edits; one function answers "compete?"."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlmodel import Session, select

from referral.auth.models import User
from referral.businesses.competition import businesses_compete, trades_compete
from referral.businesses.models import Trade
from referral.businesses.taxonomy import TRADES
from tests.factories import SignedIn, make_business, make_user, sign_in, trade_id


@pytest.fixture
def operator(app: Flask, db: Session, owner_a: SignedIn):  # type: ignore[no-untyped-def]
    user = make_user(db, owner_a.business, email="op@referral.example", is_operator=True)
    return sign_in(app, user)


def test_at_least_25_home_service_trades_are_seeded(db: Session) -> None:
    slugs = set(db.exec(select(Trade.slug)))
    assert len(TRADES) >= 25 and set(TRADES) <= slugs
    for slug in ("hvac", "plumbing", "electrical", "roofing", "carpet-cleaning", "concrete"):
        assert slug in slugs


def test_a_trade_competes_with_itself_and_competition_is_symmetric(db: Session) -> None:
    hvac, handyman, painting = (trade_id(db, s) for s in ("hvac", "handyman", "painting"))

    assert trades_compete(db, hvac, hvac)
    assert trades_compete(db, handyman, painting) and trades_compete(db, painting, handyman)
    assert not trades_compete(db, hvac, trade_id(db, "plumbing"))


def test_an_operators_edit_changes_who_competes(db: Session, operator) -> None:  # type: ignore[no-untyped-def]
    hvac, plumbing, electrical = (trade_id(db, s) for s in ("hvac", "plumbing", "electrical"))
    a = make_business(db, trade="hvac")
    b = make_business(db, trade="plumbing")

    response = operator.post_form(
        f"/operator/trades/{hvac}",
        {"name": "HVAC", "competitors": [str(plumbing), str(electrical)]},
    )

    assert response.status_code == 302
    assert businesses_compete(db, a, b) and businesses_compete(db, b, a)
    assert trades_compete(db, electrical, hvac)

    operator.post_form(f"/operator/trades/{hvac}", {"name": "HVAC", "competitors": []})
    assert not businesses_compete(db, a, b)
    assert trades_compete(db, hvac, hvac)  # cannot be removed


def test_an_operator_adds_a_trade_with_a_valid_unique_slug(db: Session, operator) -> None:  # type: ignore[no-untyped-def]
    bad = operator.post_form("/operator/trades", {"name": "Tile setting", "slug": "Tile Setting"})
    taken = operator.post_form("/operator/trades", {"name": "Heating", "slug": "hvac"})
    good = operator.post_form("/operator/trades", {"name": "Tile setting", "slug": "tile-setting"})

    assert bad.status_code == taken.status_code == 422
    assert good.status_code == 302
    assert db.exec(select(Trade.name).where(Trade.slug == "tile-setting")).one() == "Tile setting"


def test_the_operator_pages_do_not_exist_for_anyone_else(owner_a: SignedIn) -> None:
    assert owner_a.client.get("/operator/trades").status_code == 404  # type: ignore[attr-defined]


def test_make_operator_command(app: Flask, db: Session, owner_a: SignedIn) -> None:
    runner = app.test_cli_runner()

    missing = runner.invoke(args=["make-operator", "nobody@example.com"])
    made = runner.invoke(args=["make-operator", owner_a.user.email.upper()])

    assert missing.exit_code != 0 and "No user" in missing.output
    assert made.exit_code == 0
    user = db.exec(select(User).where(User.id == owner_a.user.id)).one()
    db.refresh(user)
    assert user.is_operator
    assert "handyman" in runner.invoke(args=["trades"]).output


def test_the_trades_api_lists_competitors(app: Flask, client, db: Session) -> None:
    from referral.apikeys.models import ApiKey
    from referral.auth.tokens import hash_token

    business = make_business(db)
    user = make_user(db, business)
    db.add(
        ApiKey(
            business_id=business.id,
            created_by_id=user.id,
            name="t",
            prefix="rk",
            key_hash=hash_token("k-trades"),
        )
    )
    db.commit()

    items = client.get("/api/v1/trades", headers={"Authorization": "Bearer k-trades"}).json["items"]

    handyman = next(t for t in items if t["slug"] == "handyman")
    assert "painting" in handyman["competes_with"]
