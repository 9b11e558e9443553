"""The business profile: owners and managers edit it; everyone signed in can read it."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlmodel import Session, select

from referral.businesses.models import Business
from tests.support.factories import SignedIn, make_user, sign_in, trade_id

GOOD = {
    "name": "Cool Air HVAC & Heat",
    "trade": "hvac",
    "zip_code": "78745",
    "radius_miles": "40",
    "description": "Family run since 1998.",
    "phone": "(512) 555-0199",
    "website": "https://coolair.example",
}


def saved(db: Session, business: Business) -> Business:
    return db.exec(
        select(Business).where(Business.id == business.id).execution_options(populate_existing=True)
    ).one()


def test_an_owner_edits_the_profile_and_the_service_area_moves(
    db: Session, owner_a: SignedIn
) -> None:
    response = owner_a.client.post_form("/business/profile", GOOD)  # type: ignore[attr-defined]

    assert response.status_code == 302
    business = saved(db, owner_a.business)
    assert (business.name, business.zip_code, business.radius_miles) == (
        "Cool Air HVAC & Heat",
        "78745",
        40,
    )
    assert (business.description, business.website) == (
        "Family run since 1998.",
        "https://coolair.example",
    )
    assert business.phone == "+15125550199"
    assert (round(business.latitude, 2), round(business.longitude, 2)) == (30.21, -97.8)
    assert business.updated_at is not None


def test_a_manager_may_change_the_trade(app: Flask, db: Session, owner_a: SignedIn) -> None:
    manager = sign_in(app, make_user(db, owner_a.business, role="manager"))

    response = manager.post_form("/business/profile", {**GOOD, "trade": "plumbing"})

    assert response.status_code == 302
    assert saved(db, owner_a.business).trade_id == trade_id(db, "plumbing")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("512-555-0123", "+15125550123"),
        ("+1 (512) 555 0123", "+15125550123"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_phone_numbers_are_stored_in_e164(
    db: Session, owner_a: SignedIn, typed: str, stored: str
) -> None:
    owner_a.client.post_form("/business/profile", {**GOOD, "phone": typed})  # type: ignore[attr-defined]

    assert saved(db, owner_a.business).phone == stored


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("512-555-0123", '<a href="tel:+15125550123">(512) 555-0123</a>'),
        ("+44 20 7946 0958", '<a href="tel:+442079460958">+44 20 7946 0958</a>'),
    ],
)
def test_phone_numbers_show_as_people_write_them_and_dial_in_e164(
    owner_a: SignedIn, owner_b: SignedIn, typed: str, shown: str
) -> None:
    owner_a.client.post_form("/business/profile", {**GOOD, "phone": typed})  # type: ignore[attr-defined]

    page = owner_b.client.get(f"/businesses/{owner_a.business.id}").get_data(as_text=True)  # type: ignore[attr-defined]

    assert shown in page


def test_blank_optional_fields_clear_them(db: Session, owner_a: SignedIn) -> None:
    owner_a.client.post_form("/business/profile", GOOD)  # type: ignore[attr-defined]

    response = owner_a.client.post_form(  # type: ignore[attr-defined]
        "/business/profile", {**GOOD, "description": " ", "phone": "", "website": ""}
    )

    assert response.status_code == 302
    business = saved(db, owner_a.business)
    assert (business.description, business.phone, business.website) == ("", "", "")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "Enter a name of 1 to 120 characters."),
        ("name", "x" * 121, "Enter a name of 1 to 120 characters."),
        ("zip_code", "99999", "Unknown ZIP code"),
        ("zip_code", "7870", "Unknown ZIP code"),
        ("radius_miles", "0", "Choose a radius from 1 to 200 miles."),
        ("radius_miles", "201", "Choose a radius from 1 to 200 miles."),
        ("radius_miles", "ten", "Not a valid integer."),
        ("phone", "12", "Enter a valid phone number."),
        ("phone", "555-0199", "Enter a valid phone number."),
        ("website", "javascript:alert(1)", "starting with http:// or https://"),
        ("website", "ftp://coolair.example", "starting with http:// or https://"),
        ("website", "coolair", "starting with http:// or https://"),
        ("description", "x" * 2001, "Use at most 2000 characters."),
        ("trade", "astrology", "Choose a trade."),
        ("trade", "", "Choose a trade."),
    ],
)
def test_bad_values_are_shown_and_nothing_changes(
    db: Session, owner_a: SignedIn, field: str, value: str, message: str
) -> None:
    response = owner_a.client.post_form("/business/profile", {**GOOD, field: value})  # type: ignore[attr-defined]

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page
    assert f'id="{field}-error"' in page
    business = saved(db, owner_a.business)
    assert (business.name, business.zip_code, business.radius_miles, business.phone) == (
        "Cool Air HVAC",
        "78701",
        25,
        "",
    )
    assert business.trade_id == trade_id(db, "hvac")


def test_a_rejected_form_is_shown_again_as_typed(owner_a: SignedIn) -> None:
    response = owner_a.client.post_form(  # type: ignore[attr-defined]
        "/business/profile", {**GOOD, "zip_code": "99999"}
    )

    page = response.get_data(as_text=True)
    assert 'value="Cool Air HVAC &amp; Heat"' in page
    assert 'value="99999"' in page


def test_staff_see_the_profile_read_only(app: Flask, db: Session, owner_a: SignedIn) -> None:
    staff = sign_in(app, make_user(db, owner_a.business, role="staff"))

    page = staff.get("/business/profile").get_data(as_text=True)
    refused = staff.post_form("/business/profile", GOOD)

    assert "Only owners and managers can change the profile." in page
    assert "Cool Air HVAC" in page and "HVAC" in page and '<form method="post" class' not in page
    assert refused.status_code == 403
    assert saved(db, owner_a.business).name == "Cool Air HVAC"


def test_another_business_sees_the_public_profile_without_private_data(
    db: Session, owner_a: SignedIn, owner_b: SignedIn
) -> None:
    owner_a.client.post_form("/business/profile", {**GOOD, "zip_code": "78701"})  # type: ignore[attr-defined]
    make_user(db, owner_a.business, email="staff@coolair.example.com", role="staff")

    page = owner_b.client.get(f"/businesses/{owner_a.business.id}").get_data(as_text=True)  # type: ignore[attr-defined]

    for shown in ("Cool Air HVAC &amp; Heat", "HVAC", "78701", "Austin, TX", "within 40 miles"):
        assert shown in page
    for shown in ("Family run since 1998.", "+15125550199", "https://coolair.example"):
        assert shown in page
    assert owner_a.user.email not in page and "staff@coolair.example.com" not in page
    assert "Propose a partnership" in page


def test_an_unknown_business_is_a_404(owner_b: SignedIn) -> None:
    assert owner_b.client.get("/businesses/999999").status_code == 404  # type: ignore[attr-defined]


def test_profiles_need_a_signed_in_user(client, owner_a: SignedIn) -> None:  # type: ignore[no-untyped-def]
    public = client.get(f"/businesses/{owner_a.business.id}")
    own = client.get("/business/profile")

    assert public.status_code == own.status_code == 302
    assert "/login" in public.headers["Location"]


def test_free_text_is_escaped(owner_a: SignedIn, owner_b: SignedIn) -> None:
    owner_a.client.post_form(  # type: ignore[attr-defined]
        "/business/profile", {**GOOD, "description": "<script>alert('x')</script>"}
    )

    page = owner_b.client.get(f"/businesses/{owner_a.business.id}").get_data(as_text=True)  # type: ignore[attr-defined]

    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
