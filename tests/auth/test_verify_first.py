"""Until its owner confirms the email address, a business can fill its profile,
browse partners and add customers, but reaches nobody: no proposals,
referrals, consent requests, lead listings or invitations, and no API keys.
Each such page says why and offers a new link; the API answers 403."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlmodel import Session, select

from referral.auth.models import ApiKey, Invitation
from referral.auth.tokens import hash_token
from referral.customers.models import Customer
from referral.db import utcnow
from referral.leads.models import Lead
from referral.partnerships.models import Partnership
from tests.support.factories import SignedIn, make_business, make_user, sign_in

VERIFY_FIRST = "Confirm your email address first"
TERMS_FORM = {
    "they_refer_to_me-basis": "percent",
    "they_refer_to_me-percent": "10",
    "they_refer_to_me-hold_days": "14",
    "they_refer_to_me-response_window_hours": "48",
    "i_refer_to_them-basis": "percent",
    "i_refer_to_them-percent": "10",
    "i_refer_to_them-hold_days": "14",
    "i_refer_to_them-response_window_hours": "48",
}


@pytest.fixture
def newcomer(app: Flask, db: Session) -> SignedIn:
    """An HVAC business whose owner never clicked the confirmation link."""
    business = make_business(db, name="New Air", trade="hvac", zip_code="78701")
    user = make_user(db, business, email="new@newair.example", name="Nia New", verified=False)
    return SignedIn(business, user, sign_in(app, user))


@pytest.fixture
def plumber(db: Session):  # type: ignore[no-untyped-def]
    business = make_business(db, name="Drip Plumbing", trade="plumbing", zip_code="78704")
    make_user(db, business, email="owner@drip.example")
    return business


def test_an_unverified_business_fills_its_profile_browses_and_adds_customers(
    newcomer: SignedIn, plumber, db: Session
) -> None:
    client = newcomer.client
    profile = client.post_form(  # type: ignore[attr-defined]
        "/business/profile",
        {"name": "New Air HVAC", "trade": "hvac", "zip_code": "78701", "radius_miles": "30"},
    )
    partners = client.get("/partners")  # type: ignore[attr-defined]
    customer = client.post_form(  # type: ignore[attr-defined]
        "/customers/new", {"name": "Ana Diaz", "email": "ana@example.com"}
    )

    assert profile.status_code == 302
    assert partners.status_code == 200 and "Drip Plumbing" in partners.get_data(as_text=True)
    assert customer.status_code == 302
    assert db.exec(select(Customer)).one().name == "Ana Diaz"


def test_an_unverified_business_reaches_nobody_and_each_page_says_why(
    newcomer: SignedIn, plumber, db: Session
) -> None:
    client = newcomer.client
    for page in (
        f"/partners/{plumber.id}/propose",
        "/referrals/new",
        "/leads/new",
        "/team",
        "/settings/api-keys",
    ):
        shown = client.get(page).get_data(as_text=True)  # type: ignore[attr-defined]
        assert VERIFY_FIRST in shown, page
        assert 'href="/verify/resend"' in shown, page

    proposal = client.post_form(f"/partners/{plumber.id}/propose", TERMS_FORM)  # type: ignore[attr-defined]
    invitation = client.post_form(  # type: ignore[attr-defined]
        "/team/invitations", {"email": "mo@newair.example", "role": "manager"}, page="/team"
    )
    key = client.post_form("/settings/api-keys", {"name": "CRM"})  # type: ignore[attr-defined]
    referral = client.post_form(  # type: ignore[attr-defined]
        "/referrals/new",
        {
            "partner_id": plumber.id,
            "customer_id": 1,
            "need": "A leak in the roof",
            "urgency": "flexible",
            "consent_method": "email_link",
        },
    )

    assert proposal.status_code == 403 and VERIFY_FIRST in proposal.get_data(as_text=True)
    assert invitation.status_code == 422 and VERIFY_FIRST in invitation.get_data(as_text=True)
    assert key.status_code == 403 and VERIFY_FIRST in key.get_data(as_text=True)
    assert referral.status_code == 403 and VERIFY_FIRST in referral.get_data(as_text=True)
    for table in (Partnership, Invitation, ApiKey, Lead):
        assert db.exec(select(table)).all() == [], table


def test_the_api_answers_403_with_the_reason(
    app: Flask, newcomer: SignedIn, plumber, db: Session
) -> None:
    # A key made before the rule existed.
    db.add(
        ApiKey(
            business_id=newcomer.business.id,
            created_by_id=newcomer.user.id,
            name="old",
            prefix="rk_test_",
            key_hash=hash_token("rk_test_old"),
        )
    )
    db.commit()
    api = app.test_client()
    headers = {"Authorization": "Bearer rk_test_old"}

    proposal = api.post(
        "/api/v1/partnerships",
        json={
            "partner_id": plumber.id,
            "they_refer_to_me": {"basis": "percent", "rate_bps": 1000},
            "i_refer_to_them": {"basis": "percent", "rate_bps": 1000},
        },
        headers=headers,
    )
    customers = api.get("/api/v1/customers", headers=headers)

    assert proposal.status_code == 403
    assert proposal.get_json()["message"].startswith(VERIFY_FIRST)
    assert customers.status_code == 200
    assert db.exec(select(Partnership)).all() == []


def test_once_the_owner_confirms_the_business_may_reach_others(
    newcomer: SignedIn, plumber, db: Session
) -> None:
    newcomer.user.email_verified_at = utcnow()
    db.add(newcomer.user)
    db.commit()

    proposal = newcomer.client.post_form(f"/partners/{plumber.id}/propose", TERMS_FORM)  # type: ignore[attr-defined]

    assert proposal.status_code == 302
    assert VERIFY_FIRST not in newcomer.client.get("/referrals/new").get_data(as_text=True)  # type: ignore[attr-defined]
