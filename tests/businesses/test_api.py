"""The businesses API: trades, public profiles, and my own profile."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlmodel import Session, select

from referral.auth.models import ApiKey, User
from referral.auth.tokens import hash_token
from referral.businesses.models import Business, Trade
from referral.db import utcnow
from tests.support.factories import SignedIn, make_user, trade_id


def bearer(db: Session, user: User, secret: str) -> dict[str, str]:
    """An API key created by `user`, as the Authorization header that sends it."""
    db.add(
        ApiKey(
            business_id=user.business_id,
            created_by_id=user.id,
            name="test",
            prefix=secret[:8],
            key_hash=hash_token(secret),
        )
    )
    db.commit()
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def key_a(db: Session, owner_a: SignedIn) -> dict[str, str]:
    return bearer(db, owner_a.user, "rk_test_owner_a")


def saved(db: Session, business: Business) -> Business:
    return db.exec(
        select(Business).where(Business.id == business.id).execution_options(populate_existing=True)
    ).one()


def test_trades_are_listed_a_page_at_a_time_with_their_competitors(
    client: FlaskClient, db: Session, key_a: dict[str, str]
) -> None:
    count = len(db.exec(select(Trade)).all())

    first = client.get("/api/v1/trades?per_page=10", headers=key_a).json
    every = client.get("/api/v1/trades?per_page=100", headers=key_a).json

    assert (first["page"], first["per_page"], first["total"]) == (1, 10, count)
    assert len(first["items"]) == 10 and len(every["items"]) == count
    assert [t["name"] for t in every["items"]] == sorted(t["name"] for t in every["items"])
    by_slug = {t["slug"]: t for t in every["items"]}
    assert by_slug["handyman"]["name"] == "Handyman"
    assert "painting" in by_slug["handyman"]["competes_with"]
    assert by_slug["pest-control"]["competes_with"] == []
    for slug, trade in by_slug.items():
        assert slug not in trade["competes_with"]
        assert all(slug in by_slug[other]["competes_with"] for other in trade["competes_with"])


def test_trade_pages_reject_bad_paging(client: FlaskClient, key_a: dict[str, str]) -> None:
    for query in ("page=0", "per_page=101", "per_page=x"):
        response = client.get(f"/api/v1/trades?{query}", headers=key_a)
        assert response.status_code == 422 and response.json["errors"]


def test_every_call_needs_a_valid_key(client: FlaskClient, owner_a: SignedIn) -> None:
    for path in ("/api/v1/trades", "/api/v1/business", f"/api/v1/businesses/{owner_a.business.id}"):
        assert client.get(path).status_code == 401
        wrong = client.get(path, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.json["status"] == 401


def test_my_business_is_its_public_profile_with_its_postal_address_and_time_zone(
    client: FlaskClient, key_a: dict[str, str], owner_a: SignedIn
) -> None:
    client.patch(
        "/api/v1/business", headers=key_a, json={"postal_address": "PO Box 12, Austin, TX 78701"}
    )
    body = client.get("/api/v1/business", headers=key_a).json

    assert body == {
        "id": owner_a.business.id,
        "name": "Cool Air HVAC",
        "trade": {"slug": "hvac", "name": "HVAC"},
        "zip_code": "78701",
        "radius_miles": 25,
        "description": "",
        "phone": "",
        "website": "",
        "postal_address": "PO Box 12, Austin, TX 78701",
        "time_zone": "",
    }


def test_another_businesss_public_profile_shows_no_private_data(
    client: FlaskClient, key_a: dict[str, str], owner_b: SignedIn
) -> None:
    response = client.get(f"/api/v1/businesses/{owner_b.business.id}", headers=key_a)

    assert response.status_code == 200
    assert response.json["name"] == "Drip Plumbing"
    assert response.json["trade"]["slug"] == "plumbing"
    assert owner_b.user.email not in response.get_data(as_text=True)
    assert set(response.json) == {
        "id",
        "name",
        "trade",
        "zip_code",
        "radius_miles",
        "description",
        "phone",
        "website",
    }


def test_an_unknown_business_is_a_404(client: FlaskClient, key_a: dict[str, str]) -> None:
    response = client.get("/api/v1/businesses/999999", headers=key_a)

    assert response.status_code == 404
    assert response.json.items() >= {"status": 404, "message": "No such business."}.items()


def test_a_patch_changes_only_what_it_sends_and_moves_the_area(
    client: FlaskClient, db: Session, key_a: dict[str, str], owner_a: SignedIn
) -> None:
    response = client.patch(
        "/api/v1/business",
        json={"zip_code": "78745", "trade": "electrical", "website": "http://coolair.example"},
        headers=key_a,
    )

    assert response.status_code == 200, response.json
    assert response.json["trade"] == {"slug": "electrical", "name": "Electrical"}
    business = saved(db, owner_a.business)
    assert (business.zip_code, business.radius_miles, business.name) == (
        "78745",
        25,
        "Cool Air HVAC",
    )
    assert business.trade_id == trade_id(db, "electrical")
    assert round(business.latitude, 2) == 30.21
    assert business.website == "http://coolair.example"


def test_a_patch_clears_optional_fields_with_empty_strings(
    client: FlaskClient, db: Session, key_a: dict[str, str], owner_a: SignedIn
) -> None:
    client.patch(
        "/api/v1/business",
        json={"phone": "512 555 0100", "description": "Hi", "website": "https://a.example"},
        headers=key_a,
    )

    response = client.patch(
        "/api/v1/business", json={"phone": "", "description": "", "website": ""}, headers=key_a
    )

    assert response.status_code == 200
    business = saved(db, owner_a.business)
    assert (business.phone, business.description, business.website) == ("", "", "")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "   "}, "name"),
        ({"trade": "astrology"}, "trade"),
        ({"trade": ""}, "trade"),
        ({"zip_code": "99999"}, "zip_code"),
        ({"radius_miles": 0}, "radius_miles"),
        ({"radius_miles": "far"}, "radius_miles"),
        ({"phone": "12"}, "phone"),
        ({"website": "javascript:alert(1)"}, "website"),
        ({"description": "x" * 2001}, "description"),
        ({"is_operator": True}, "is_operator"),
        ({"name": None}, "name"),
    ],
)
def test_a_bad_patch_is_a_422_with_a_field_map_and_writes_nothing(
    client: FlaskClient,
    db: Session,
    key_a: dict[str, str],
    owner_a: SignedIn,
    body: dict[str, Any],
    field: str,
) -> None:
    response = client.patch(
        "/api/v1/business", json={"description": "changed", **body}, headers=key_a
    )

    assert response.status_code == 422
    assert response.json["status"] == 422 and list(response.json["errors"]) == [field]
    business = saved(db, owner_a.business)
    assert (business.name, business.description, business.updated_at) == ("Cool Air HVAC", "", None)
    assert business.trade_id == trade_id(db, "hvac")


def test_a_key_made_by_staff_may_read_but_not_change_the_profile(
    client: FlaskClient, db: Session, owner_a: SignedIn
) -> None:
    staff = make_user(db, owner_a.business, role="staff")
    key = bearer(db, staff, "rk_test_staff_key")

    read = client.get("/api/v1/business", headers=key)
    change = client.patch("/api/v1/business", json={"name": "Mine now"}, headers=key)

    assert read.status_code == 200
    assert change.status_code == 403 and change.json["status"] == 403
    assert saved(db, owner_a.business).name == "Cool Air HVAC"


def test_a_key_whose_creator_was_disabled_no_longer_works(
    client: FlaskClient, db: Session, owner_a: SignedIn
) -> None:
    manager = make_user(db, owner_a.business, role="manager")
    key = bearer(db, manager, "rk_test_manager_key")
    allowed = client.patch("/api/v1/business", json={"description": "ok"}, headers=key)
    manager.disabled_at = utcnow()
    db.add(manager)
    db.commit()

    refused = client.patch("/api/v1/business", json={"name": "Gone"}, headers=key)

    assert allowed.status_code == 200 and refused.status_code == 401
    assert saved(db, owner_a.business).name == "Cool Air HVAC"


def test_the_endpoints_are_documented(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").json
    paths = spec["paths"]

    assert paths["/api/v1/trades"]["get"]["summary"].startswith("Every trade")
    assert {"200", "401", "422"} <= set(paths["/api/v1/trades"]["get"]["responses"])
    assert "404" in paths["/api/v1/businesses/{business_id}"]["get"]["responses"]
    patch = paths["/api/v1/business"]["patch"]
    assert {"200", "401", "403", "422"} <= set(patch["responses"])
    body = patch["requestBody"]["content"]["application/json"]["schema"]
    assert body.get("$ref") or body.get("properties")
