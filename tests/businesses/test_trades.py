"""Trades and competition are data an operator edits; one function answers "compete?"."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlmodel import Session, select

from referral.businesses.competition import (
    businesses_compete,
    competing_trade_ids,
    trades_compete,
)
from referral.businesses.models import Trade, TradeCompetition
from referral.businesses.taxonomy import COMPETING, TRADES
from tests.support.factories import SignedIn, make_business, make_user, sign_in, trade_id


@pytest.fixture
def operator(app: Flask, db: Session, owner_a: SignedIn):  # type: ignore[no-untyped-def]
    user = make_user(db, owner_a.business, email="op@referral.example", is_operator=True)
    return sign_in(app, user)


def pairs(db: Session) -> set[tuple[int, int]]:
    db.expire_all()
    return {(row.trade_id, row.competitor_id) for row in db.exec(select(TradeCompetition))}


def trade_names(db: Session) -> dict[str, str]:
    db.expire_all()
    return {t.slug: t.name for t in db.exec(select(Trade))}


def test_at_least_25_home_service_trades_are_seeded(db: Session) -> None:
    slugs = set(db.exec(select(Trade.slug)))
    assert len(TRADES) >= 25 and set(TRADES) <= slugs
    for slug in ("hvac", "plumbing", "electrical", "roofing", "carpet-cleaning", "concrete"):
        assert slug in slugs


def test_the_seeded_competition_is_stored_both_ways(db: Session) -> None:
    stored = pairs(db)

    assert len(stored) == 2 * len(COMPETING)
    assert all((b, a) in stored for a, b in stored)
    assert all(a != b for a, b in stored)


def test_a_trade_competes_with_itself_and_competition_is_symmetric(db: Session) -> None:
    hvac, handyman, painting = (trade_id(db, s) for s in ("hvac", "handyman", "painting"))

    assert trades_compete(db, hvac, hvac)
    assert trades_compete(db, handyman, painting) and trades_compete(db, painting, handyman)
    assert not trades_compete(db, hvac, trade_id(db, "plumbing"))
    assert competing_trade_ids(db, hvac) == {hvac, trade_id(db, "insulation")}


def test_two_businesses_of_one_trade_compete(db: Session) -> None:
    a, b = make_business(db, trade="roofing"), make_business(db, trade="roofing")

    assert businesses_compete(db, a, b)


def test_the_operator_sees_every_trade_and_its_competitors(db: Session, operator) -> None:  # type: ignore[no-untyped-def]
    page = operator.get("/operator/trades").get_data(as_text=True)
    edit = operator.get(f"/operator/trades/{trade_id(db, 'handyman')}").get_data(as_text=True)

    assert page.count("<tr>") == len(TRADES) + 1  # the header row
    assert "Painting" in page and "only itself" in page
    assert f'value="{trade_id(db, "painting")}" checked' in edit
    assert f'value="{trade_id(db, "plumbing")}">' in edit
    assert f'value="{trade_id(db, "handyman")}"' not in edit  # itself is not a choice


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
    assert not trades_compete(db, hvac, trade_id(db, "insulation"))  # unticked: removed
    assert not trades_compete(db, trade_id(db, "insulation"), hvac)

    operator.post_form(f"/operator/trades/{hvac}", {"name": "HVAC", "competitors": []})
    assert not businesses_compete(db, a, b) and not businesses_compete(db, b, a)
    assert trades_compete(db, hvac, hvac)  # cannot be removed


def test_the_table_stays_symmetric_through_edits(db: Session, operator) -> None:  # type: ignore[no-untyped-def]
    handyman, painting, roofing = (trade_id(db, s) for s in ("handyman", "painting", "roofing"))

    operator.post_form(
        f"/operator/trades/{painting}", {"name": "Painting", "competitors": [str(roofing)]}
    )
    operator.post_form(
        f"/operator/trades/{roofing}",
        {"name": "Roofing", "competitors": [str(handyman), str(painting)]},
    )

    stored = pairs(db)
    assert all((b, a) in stored for a, b in stored)
    assert (painting, handyman) not in stored  # painting's edit dropped handyman
    assert {(roofing, handyman), (handyman, roofing), (painting, roofing)} <= stored


def test_ticking_the_trade_itself_stores_no_row(db: Session, operator) -> None:  # type: ignore[no-untyped-def]
    hvac = trade_id(db, "hvac")

    response = operator.post_form(
        f"/operator/trades/{hvac}", {"name": "HVAC", "competitors": [str(hvac)]}
    )

    assert response.status_code == 302
    assert not any(hvac in pair for pair in pairs(db))
    assert trades_compete(db, hvac, hvac)


def test_an_operator_renames_a_trade_and_its_slug_stays(db: Session, operator) -> None:  # type: ignore[no-untyped-def]
    hvac = trade_id(db, "hvac")

    response = operator.post_form(
        f"/operator/trades/{hvac}", {"name": "Heating & cooling", "competitors": []}
    )

    assert response.status_code == 302
    assert trade_names(db)["hvac"] == "Heating & cooling"
    assert "Heating &amp; cooling" in operator.get("/operator/trades").get_data(as_text=True)


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"name": "", "competitors": []}, "name", "Enter a name of 1 to 80 characters."),
        ({"name": "x" * 81, "competitors": []}, "name", "Enter a name of 1 to 80 characters."),
        ({"name": "plumbing", "competitors": []}, "name", "A trade already has this name."),
        ({"name": "HVAC", "competitors": ["abc"]}, "competitors", "Choose trades from the list."),
        (
            {"name": "HVAC", "competitors": ["999999"]},
            "competitors",
            "Choose trades from the list.",
        ),
    ],
)
def test_a_bad_trade_edit_is_shown_and_nothing_changes(
    db: Session,
    operator,  # type: ignore[no-untyped-def]
    form: dict[str, object],
    field: str,
    message: str,
) -> None:
    hvac, plumbing = trade_id(db, "hvac"), trade_id(db, "plumbing")
    before_pairs, before_names = pairs(db), trade_names(db)

    response = operator.post_form(
        f"/operator/trades/{hvac}",
        {**form, "competitors": [str(plumbing), *form["competitors"]]},  # type: ignore[list-item]
    )

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page and f'id="{field}-error"' in page
    assert f'value="{plumbing}" checked' in page  # the form comes back as it was sent
    assert pairs(db) == before_pairs and trade_names(db) == before_names


def test_editing_an_unknown_trade_is_a_404(operator) -> None:  # type: ignore[no-untyped-def]
    assert operator.get("/operator/trades/999999").status_code == 404
    assert (
        operator.post_form(
            "/operator/trades/999999", {"name": "X"}, page="/operator/trades"
        ).status_code
        == 404
    )


def test_an_operator_adds_a_trade_that_competes_only_with_itself(db: Session, operator) -> None:  # type: ignore[no-untyped-def]
    response = operator.post_form(
        "/operator/trades", {"name": "Tile setting", "slug": "tile-setting"}
    )

    assert response.status_code == 302
    tile = db.exec(select(Trade).where(Trade.slug == "tile-setting")).one()
    assert tile.name == "Tile setting"
    assert competing_trade_ids(db, tile.id) == {tile.id}  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"name": "Tile setting", "slug": "Tile Setting"}, "slug", "Use lower-case letters"),
        ({"name": "Tile setting", "slug": "tile--setting"}, "slug", "Use lower-case letters"),
        ({"name": "Tile setting", "slug": ""}, "slug", "Use lower-case letters"),
        ({"name": "Tile setting"}, "slug", "Use lower-case letters"),
        ({"name": "Heating", "slug": "hvac"}, "slug", "A trade already has this slug."),
        ({"name": "hvac", "slug": "heating"}, "name", "A trade already has this name."),
        ({"name": "", "slug": "heating"}, "name", "Enter a name of 1 to 80 characters."),
    ],
)
def test_a_bad_new_trade_is_shown_and_nothing_is_added(
    db: Session,
    operator,  # type: ignore[no-untyped-def]
    form: dict[str, str],
    field: str,
    message: str,
) -> None:
    before = trade_names(db)

    response = operator.post_form("/operator/trades", form)

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page and f'id="{field}-error"' in page
    assert trade_names(db) == before


def test_the_operator_pages_do_not_exist_for_anyone_else(db: Session, owner_a: SignedIn) -> None:
    hvac = trade_id(db, "hvac")
    client = owner_a.client
    token = client.csrf_token("/business/profile")  # type: ignore[attr-defined]

    assert client.get("/operator/trades").status_code == 404  # type: ignore[attr-defined]
    assert client.get(f"/operator/trades/{hvac}").status_code == 404  # type: ignore[attr-defined]
    added = client.post(  # type: ignore[attr-defined]
        "/operator/trades", data={"csrf_token": token, "name": "Tiles", "slug": "tiles"}
    )
    edited = client.post(  # type: ignore[attr-defined]
        f"/operator/trades/{hvac}", data={"csrf_token": token, "name": "Hacked"}
    )

    assert added.status_code == edited.status_code == 404
    assert "tiles" not in trade_names(db) and trade_names(db)["hvac"] == "HVAC"


def test_the_operator_pages_ask_a_visitor_to_log_in(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/operator/trades")

    assert response.status_code == 302 and "/login" in response.headers["Location"]
