"""The referrals API: the same rules, the shared error shape, idempotent POSTs."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from sqlmodel import Session, select

from referral.auth.models import User
from referral.referrals.models import Referral
from tests.support.api import ApiClient, api_client
from tests.support.factories import make_business, make_user
from tests.support.mail import last_email


def user(db: Session, email: str) -> User:
    return db.exec(select(User).where(User.email == email)).one()


@pytest.fixture
def alex(app: Flask, db: Session, hvac) -> ApiClient:  # type: ignore[no-untyped-def]
    return api_client(app, db, user(db, "alex@coolair.example"))


@pytest.fixture
def blair(app: Flask, db: Session, plumber) -> ApiClient:  # type: ignore[no-untyped-def]
    return api_client(app, db, user(db, "blair@drip.example"))


def body(plumber, customer_id: int, **extra: object) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {
        "partner_id": plumber.business_id,
        "customer_id": customer_id,
        "need": "Water heater leaking",
        "urgency": "this_week",
        **extra,
    }


def test_the_whole_path_through_the_api(
    app: Flask, db: Session, alex: ApiClient, blair: ApiClient, plumber, customer_id: int
) -> None:  # type: ignore[no-untyped-def]
    created = alex.post("/referrals", body(plumber, customer_id))
    assert created.status_code == 201, created.json
    referral_id = created.json["id"]
    assert created.json["status"] == "awaiting_consent"
    assert blair.get(f"/referrals/{referral_id}").json["customer"] is None
    assert blair.get("/referrals").json["total"] == 0  # nothing before consent

    path = last_email(db, to="ana@example.com").path("/consent/")
    app.test_client().post_form(path, {"answer": "yes"})

    before = blair.get(f"/referrals/{referral_id}")
    assert before.json["status"] == "sent" and before.json["customer"] is None
    assert b"ana@example.com" not in before.data
    accepted = blair.post(f"/referrals/{referral_id}/accept")
    assert accepted.json["customer"]["email"] == "ana@example.com"
    won = blair.post(
        f"/referrals/{referral_id}/won", {"job_value_cents": 480000, "job_date": "2026-11-20"}
    )
    assert won.json["status"] == "won"

    receipt = alex.get(f"/referrals/{referral_id}/consent").json
    assert receipt["decision"] == "given" and receipt["hash_matches"]
    assert receipt["receiving_business"] == "Drip Plumbing"


def test_a_retried_post_with_an_idempotency_key_creates_one_referral(
    db: Session, alex: ApiClient, plumber, customer_id: int
) -> None:  # type: ignore[no-untyped-def]
    headers = {"Idempotency-Key": "crm-42"}
    first = alex.client.post(
        "/api/v1/referrals", json=body(plumber, customer_id), headers={**alex.headers, **headers}
    )
    again = alex.client.post(
        "/api/v1/referrals", json=body(plumber, customer_id), headers={**alex.headers, **headers}
    )

    assert first.status_code == again.status_code == 201
    assert first.json["id"] == again.json["id"]
    assert len(db.exec(select(Referral)).all()) == 1


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"need": ""}, "need"),
        ({"urgency": "yesterday"}, "urgency"),
        ({"consent_method": "telepathy"}, "consent_method"),
        ({"consent_method": "attested_phone"}, "attested_on"),
        ({"customer_id": "abc"}, "customer_id"),
    ],
)
def test_bad_input_gets_a_field_map_and_writes_nothing(
    db: Session, alex: ApiClient, plumber, customer_id: int, extra: dict[str, object], field: str
) -> None:  # type: ignore[no-untyped-def]
    response = alex.post("/referrals", {**body(plumber, customer_id), **extra})

    assert response.status_code == 422
    assert field in response.json["errors"]
    assert db.exec(select(Referral)).all() == []


def test_wrong_state_is_409_and_another_tenant_is_404(
    app: Flask, db: Session, alex: ApiClient, blair: ApiClient, plumber, customer_id: int
) -> None:  # type: ignore[no-untyped-def]
    created = alex.post(
        "/referrals",
        body(
            plumber,
            customer_id,
            consent_method="attested_phone",
            attested_on=dt.date.today().isoformat(),
        ),
    ).json
    won_early = blair.post(
        f"/referrals/{created['id']}/won", {"job_value_cents": 1, "job_date": "2026-11-20"}
    )
    assert won_early.status_code == 409 and won_early.json["message"]

    outsider = api_client(app, db, make_user(db, make_business(db, trade="roofing")))
    for path in ("", "/consent"):
        assert outsider.get(f"/referrals/{created['id']}{path}").status_code == 404
    for action in ("accept", "decline", "lost", "withdraw"):
        assert outsider.post(f"/referrals/{created['id']}/{action}").status_code == 404
    assert db.exec(select(Referral.status)).all() == ["sent"]
