"""The partnerships API: the same rules as the pages, in the shared JSON shape."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlmodel import Session, select

from referral.auth.models import User
from referral.partnerships.models import Partnership
from tests.support.api import ApiClient, api_client
from tests.support.factories import make_business, make_user

TEN_PERCENT = {"basis": "percent", "rate_bps": 1000, "hold_days": 14, "response_window_hours": 48}
FLAT_150 = {
    "basis": "flat_per_won",
    "flat_fee_cents": 15000,
    "hold_days": 0,
    "response_window_hours": 24,
}


@pytest.fixture
def hvac(app: Flask, db: Session) -> ApiClient:
    business = make_business(db, name="Cool Air HVAC", trade="hvac", zip_code="78701")
    return api_client(app, db, make_user(db, business, email="alex@coolair.example"))


@pytest.fixture
def plumber(app: Flask, db: Session) -> ApiClient:
    business = make_business(db, name="Drip Plumbing", trade="plumbing", zip_code="78704")
    return api_client(app, db, make_user(db, business, email="blair@drip.example"))


def plumber_id(db: Session) -> int:
    return db.exec(select(User.business_id).where(User.email == "blair@drip.example")).one()


def proposal(partner_id: int, **overrides: Any) -> dict[str, Any]:
    body = {
        "partner_id": partner_id,
        "they_refer_to_me": TEN_PERCENT,
        "i_refer_to_them": TEN_PERCENT,
        "message": "Hello",
    }
    body.update(overrides)
    return body


def test_two_businesses_agree_terms_through_a_counter_proposal(
    db: Session, hvac: ApiClient, plumber: ApiClient
) -> None:
    found = hvac.get("/partners").json
    assert [item["business"]["name"] for item in found["items"]] == ["Drip Plumbing"]

    created = hvac.post("/partnerships", proposal(plumber_id(db)))
    assert created.status_code == 201, created.json
    partnership_id = created.json["id"]
    assert created.json["status"] == "proposed"

    countered = plumber.post(
        f"/partnerships/{partnership_id}/counter",
        {"they_refer_to_me": TEN_PERCENT, "i_refer_to_them": FLAT_150, "message": "Flat?"},
    )
    assert countered.status_code == 200, countered.json
    assert countered.json["open_proposal"]["kind"] == "counter"

    accepted = hvac.post(f"/partnerships/{partnership_id}/accept")
    assert accepted.status_code == 200, accepted.json

    seen_by_hvac = hvac.get(f"/partnerships/{partnership_id}").json
    seen_by_plumber = plumber.get(f"/partnerships/{partnership_id}").json
    assert seen_by_hvac["status"] == seen_by_plumber["status"] == "active"
    assert seen_by_hvac["current_version"] == seen_by_plumber["current_version"]
    assert seen_by_hvac["current_version"]["number"] == 1
    plumber_earns = next(
        t for t in seen_by_hvac["current_version"]["terms"] if t["referrer_id"] == plumber_id(db)
    )
    assert (plumber_earns["basis"], plumber_earns["flat_fee_cents"]) == ("flat_per_won", 15000)
    versions = plumber.get(f"/partnerships/{partnership_id}/versions").json["items"]
    assert [v["number"] for v in versions] == [1]


def test_the_list_is_newest_first_in_pages_with_the_total_and_filters_by_status(
    db: Session, hvac: ApiClient, plumber: ApiClient
) -> None:
    active_id = hvac.post("/partnerships", proposal(plumber_id(db))).json["id"]
    assert plumber.post(f"/partnerships/{active_id}/accept").status_code == 200
    proposed_ids = [
        hvac.post("/partnerships", proposal(make_business(db, trade="plumbing").id)).json["id"]
        for _ in range(2)
    ]

    second_page = hvac.get("/partnerships?per_page=2&page=2").json
    proposed = hvac.get("/partnerships?status=proposed").json
    one = hvac.get(f"/partnerships/{active_id}").json

    assert (second_page["total"], second_page["page"], second_page["per_page"]) == (3, 2, 2)
    assert second_page["items"] == [one]
    assert one["current_version"]["number"] == 1 and one["open_proposal"] is None
    assert [p["id"] for p in proposed["items"]] == proposed_ids[::-1]
    assert proposed["total"] == 2
    assert all(p["open_proposal"]["kind"] == "initial" for p in proposed["items"])


@pytest.mark.parametrize(
    ("terms", "field"),
    [
        ({**TEN_PERCENT, "rate_bps": 0}, "rate_bps"),
        ({**TEN_PERCENT, "rate_bps": 5001}, "rate_bps"),
        ({**FLAT_150, "flat_fee_cents": -100}, "flat_fee_cents"),
        ({**FLAT_150, "flat_fee_cents": "lots"}, "flat_fee_cents"),
        ({**TEN_PERCENT, "hold_days": 91}, "hold_days"),
    ],
)
def test_bad_terms_get_a_422_with_a_field_map_and_write_nothing(
    db: Session, hvac: ApiClient, plumber: ApiClient, terms: dict[str, Any], field: str
) -> None:
    response = hvac.post("/partnerships", proposal(plumber_id(db), i_refer_to_them=terms))

    assert response.status_code == 422
    assert field in response.json["errors"]["i_refer_to_them"]
    assert db.exec(select(Partnership)).all() == []


def test_a_competitor_cannot_be_proposed_to_whatever_is_sent(
    app: Flask, db: Session, hvac: ApiClient
) -> None:
    rival = make_business(db, name="Rival HVAC", trade="hvac", zip_code="78702")

    response = hvac.post("/partnerships", proposal(rival.id))

    assert response.status_code == 409
    assert "compete" in response.json["message"]
    assert db.exec(select(Partnership)).all() == []


def test_another_tenants_partnership_is_a_404(
    app: Flask, db: Session, hvac: ApiClient, plumber: ApiClient
) -> None:
    partnership_id = hvac.post("/partnerships", proposal(plumber_id(db))).json["id"]
    outsider_business = make_business(db, name="Roof Co", trade="roofing", zip_code="78702")
    outsider = api_client(app, db, make_user(db, outsider_business))

    for path in ("", "/versions"):
        assert outsider.get(f"/partnerships/{partnership_id}{path}").status_code == 404
    for action in ("accept", "decline", "withdraw", "pause", "end"):
        response = outsider.post(f"/partnerships/{partnership_id}/{action}")
        assert response.status_code == 404, action
        assert response.json.items() >= {"status": 404, "message": "No such partnership."}.items()
    assert db.exec(select(Partnership.status)).all() == ["proposed"]


def test_accepting_your_own_proposal_is_a_409(
    db: Session, hvac: ApiClient, plumber: ApiClient
) -> None:
    partnership_id = hvac.post("/partnerships", proposal(plumber_id(db))).json["id"]

    response = hvac.post(f"/partnerships/{partnership_id}/accept")

    assert response.status_code == 409
    assert response.json["message"] == "You made this proposal; the other side answers it."


def test_a_key_made_by_staff_cannot_propose(app: Flask, db: Session, plumber: ApiClient) -> None:
    business = make_business(db, name="Staffed HVAC", trade="hvac", zip_code="78701")
    staff = api_client(app, db, make_user(db, business, role="staff"))

    response = staff.post("/partnerships", proposal(plumber_id(db)))

    assert response.status_code == 403


def test_every_partnership_operation_is_in_the_openapi_spec(app: Flask) -> None:
    paths = app.test_client().get("/api/v1/openapi.json").json["paths"]

    assert {"get", "post"} <= set(paths["/api/v1/partnerships"])
    for action in ("accept", "decline", "counter", "withdraw", "amendments", "pause", "end"):
        operation = paths[f"/api/v1/partnerships/{{partnership_id}}/{action}"]["post"]
        assert operation["summary"]
        assert {"401", "404", "409"} <= set(operation["responses"])
