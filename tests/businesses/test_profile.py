"""The business profile: owners and managers edit it; everyone signed in can read it."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlmodel import Session

from tests.factories import SignedIn, make_user, sign_in

GOOD = {
    "name": "Cool Air HVAC & Heat",
    "trade": "hvac",
    "zip_code": "78745",
    "radius_miles": "40",
    "description": "Family run since 1998.",
    "phone": "(512) 555-0199",
    "website": "https://coolair.example",
}


def test_an_owner_edits_the_profile_and_the_service_area_moves(
    db: Session, owner_a: SignedIn
) -> None:
    response = owner_a.client.post_form("/business/profile", GOOD)  # type: ignore[attr-defined]

    assert response.status_code == 302
    db.refresh(owner_a.business)
    business = owner_a.business
    assert (business.name, business.zip_code, business.radius_miles) == (
        "Cool Air HVAC & Heat",
        "78745",
        40,
    )
    assert business.phone == "+15125550199"
    assert round(business.latitude, 2) == 30.21


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "Enter a name of 1 to 120 characters."),
        ("zip_code", "99999", "Unknown ZIP code"),
        ("radius_miles", "0", "Choose a radius from 1 to 200 miles."),
        ("radius_miles", "10000", "Choose a radius from 1 to 200 miles."),
        ("phone", "12", "Enter a valid phone number."),
        ("website", "javascript:alert(1)", "Not a valid URL."),
        ("trade", "astrology", "Choose a trade."),
    ],
)
def test_bad_values_are_shown_and_nothing_changes(
    db: Session, owner_a: SignedIn, field: str, value: str, message: str
) -> None:
    response = owner_a.client.post_form("/business/profile", {**GOOD, field: value})  # type: ignore[attr-defined]

    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    db.refresh(owner_a.business)
    assert owner_a.business.name == "Cool Air HVAC"


def test_staff_see_the_profile_read_only(app: Flask, db: Session, owner_a: SignedIn) -> None:
    staff = sign_in(app, make_user(db, owner_a.business, role="staff"))

    page = staff.get("/business/profile").get_data(as_text=True)
    refused = staff.post_form("/business/profile", GOOD)

    assert "Only owners and managers can change the profile." in page
    assert refused.status_code == 403
    db.refresh(owner_a.business)
    assert owner_a.business.name == "Cool Air HVAC"


def test_another_business_sees_the_public_profile_without_private_data(
    owner_a: SignedIn, owner_b: SignedIn
) -> None:
    page = owner_b.client.get(f"/businesses/{owner_a.business.id}").get_data(as_text=True)  # type: ignore[attr-defined]

    assert "Cool Air HVAC" in page and "HVAC" in page and "78701" in page
    assert owner_a.user.email not in page
    assert owner_b.client.get("/businesses/999999").status_code == 404  # type: ignore[attr-defined]


def test_free_text_is_escaped(db: Session, owner_a: SignedIn, owner_b: SignedIn) -> None:
    owner_a.client.post_form(  # type: ignore[attr-defined]
        "/business/profile", {**GOOD, "description": "<script>alert('x')</script>"}
    )

    page = owner_b.client.get(f"/businesses/{owner_a.business.id}").get_data(as_text=True)  # type: ignore[attr-defined]

    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
