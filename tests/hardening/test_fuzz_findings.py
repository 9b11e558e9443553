"""What fuzzing the API found, each pinned down: ids too large for any row,
bodies that are not JSON, and a Stripe Checkout page that cannot be opened."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlmodel import Session

from referral.auth.apikeys.services import create_api_key
from referral.auth.models import User
from referral.ids import MAX_ID
from referral.leads.models import Lead, LeadPurchase
from referral.payments.models import ConnectedAccount
from tests.support.factories import business, sign_in
from tests.support.stripe_standin import StripeStandIn, standin, stripe_standin  # noqa: F401
from tests.support.world import live_lead

TOO_LARGE = [MAX_ID + 1, 2**63, 10**30]


def api_key(app: Flask, db: Session, who) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with app.app_context():
        key = create_api_key(session=db, actor=db.get(User, who.user_id), name="fuzz").secret
    db.commit()
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize("too_large", TOO_LARGE)
def test_an_id_larger_than_any_row_is_not_found_in_the_api_and_the_pages(
    app: Flask, db: Session, too_large: int
) -> None:
    owner = business(db, "Cool Air HVAC", "hvac", "78701", "owner@coolair.example")
    headers = api_key(app, db, owner)
    page = sign_in(app, db.get(User, owner.user_id))

    assert app.test_client().get(f"/api/v1/referrals/{too_large}", headers=headers).status_code == (
        404
    )
    assert page.get(f"/referrals/{too_large}").status_code == 404


@pytest.mark.parametrize("too_large", TOO_LARGE)
def test_an_id_larger_than_any_row_in_a_body_is_refused_with_the_field_named(
    app: Flask, db: Session, too_large: int
) -> None:
    owner = business(db, "Cool Air HVAC", "hvac", "78701", "owner@coolair.example")

    response = app.test_client().post(
        "/api/v1/referrals",
        json={"partner_id": too_large, "customer_id": 1, "need": "A leak", "urgency": "flexible"},
        headers=api_key(app, db, owner),
    )

    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"partner_id"}


def test_a_body_that_is_not_json_is_a_documented_400(app: Flask, db: Session) -> None:
    owner = business(db, "Cool Air HVAC", "hvac", "78701", "owner@coolair.example")
    spec = app.test_client().get("/api/v1/openapi.json").get_json()

    response = app.test_client().post(
        "/api/v1/customers",
        data=b"\x89PNG\r\n",
        content_type="application/json",
        headers=api_key(app, db, owner),
    )

    assert response.status_code == 400
    assert response.get_json()["status"] == 400
    with_body = [
        (path, method)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "requestBody" in operation
    ]
    assert with_body
    assert [op for op in with_body if "400" not in spec["paths"][op[0]][op[1]]["responses"]] == []


# --- buying a lead on Stripe Checkout when Stripe will not open the page ----------------


@pytest.fixture
def app_overrides(stripe_standin: StripeStandIn) -> dict[str, object]:  # noqa: F811
    return {"STRIPE_API_BASE": stripe_standin.api_base}


def lead_for_sale(app: Flask, db: Session, seller_account: str):  # type: ignore[no-untyped-def]
    seller = business(db, "Drip Plumbing", "plumbing", "78704", "owner@drip.example")
    buyer = business(db, "Cool Air HVAC", "hvac", "78701", "owner@coolair.example")
    db.add(
        ConnectedAccount(
            business_id=seller.business_id,
            stripe_account_id=seller_account,
            charges_enabled=True,
            payouts_enabled=True,
            details_submitted=True,
        )
    )
    with app.app_context():
        lead = live_lead(db, seller, buyer)
    db.commit()
    return lead, api_key(app, db, buyer)


def nothing_reserved(db: Session, lead_id: int) -> bool:
    db.expire_all()
    lead = db.get(Lead, lead_id)
    return lead is not None and lead.places_held == 0 and db.get(LeadPurchase, 1) is None


def test_a_checkout_stripe_refuses_to_open_is_a_409_and_reserves_nothing(
    app: Flask,
    db: Session,
    standin: StripeStandIn,  # noqa: F811
) -> None:
    lead, headers = lead_for_sale(app, db, seller_account="acct_unknown_to_stripe")

    response = app.test_client().post(
        f"/api/v1/leads/{lead.id}/purchases", json={"method": "checkout"}, headers=headers
    )

    assert response.status_code == 409, response.get_data(as_text=True)
    assert "Stripe refused" in response.get_json()["message"]
    assert nothing_reserved(db, lead.id)


def test_a_checkout_while_stripe_is_down_is_a_documented_503_and_reserves_nothing(
    app: Flask,
    db: Session,
    standin: StripeStandIn,  # noqa: F811
) -> None:
    account = standin.client().v1.accounts.create(params={"type": "express"})
    standin.complete_onboarding(account.id)
    lead, headers = lead_for_sale(app, db, seller_account=account.id)
    standin.add_fault("error_500", path_prefix="/v1/checkout", count=None)

    response = app.test_client().post(
        f"/api/v1/leads/{lead.id}/purchases", json={"method": "checkout"}, headers=headers
    )

    assert response.status_code == 503
    assert nothing_reserved(db, lead.id)
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    assert "503" in spec["paths"]["/api/v1/leads/{lead_id}/purchases"]["post"]["responses"]
