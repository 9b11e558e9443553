"""Every amount of money has one type and one range, whatever the way in.

The API takes integer cents only (no floats, numeric strings or booleans), the
pages and CSV files take dollars ("$1,250.00"), and each field has its range:
job values and refunds $0 to $100m, partnership fees and caps within the
partnership limits, lead prices within theirs. Anything else is a 422 naming
the field and writes nothing. Behind them, the database refuses an amount out
of range (CHECK constraints), so a value like 2^63-1 cannot be stored at all.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import marshmallow as ma
import pytest
from flask import Flask
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

from referral.auth.apikeys.services import create_api_key
from referral.auth.models import User
from referral.customers.models import CustomerJob
from referral.customers.services import create_customer
from referral.money import MAX_JOB_CENTS
from referral.partnerships.models import MAX_FLAT_FEE_CENTS
from referral.referrals.models import Referral
from tests.support.factories import (
    accepted_referral,
    business,
    partner_up,
    percent,
    sign_in,
    won_referral,
)

HUGE = 2**63 - 1
# What a hostile or careless client sends instead of an amount.
NOT_AMOUNTS: list[Any] = [1.5, "100", "1e3", None, True, "9" * 10_240, [100], {"cents": 1}]


def out_of_range(minimum: int, maximum: int) -> list[Any]:
    return [minimum - 1, -1, maximum + 1, 2**63 - 1, 2**63, 10**30]


def row_counts(db: Session) -> dict[str, int]:
    db.expire_all()
    return {
        table.name: db.execute(select(func.count()).select_from(table)).scalar_one()
        for table in SQLModel.metadata.sorted_tables
    }


def api_key(app: Flask, db: Session, who: Any) -> dict[str, str]:
    with app.app_context():
        key = create_api_key(session=db, actor=db.get(User, who.user_id), name="bounds").secret
    db.commit()
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def world(app: Flask, db: Session) -> dict[str, Any]:
    """HVAC refers to a plumber at 10%; one referral accepted, one won at $1,000."""
    hvac = business(db, "Cool Air HVAC", "hvac", "78701", "alex@coolair.example")
    plumber = business(db, "Drip Plumbing", "plumbing", "78704", "blair@drip.example")
    with app.app_context():
        partner_up(db, plumber, hvac, a_pays=percent(1000), b_pays=percent(1000))
        accepted = accepted_referral(db, hvac, plumber)
        won = won_referral(db, hvac, plumber, 100_000)
        customer = create_customer(
            session=db, business_id=hvac.business_id, data={"name": "Ana", "email": "a@x.example"}
        )
        db.commit()
    return {
        "hvac": hvac,
        "plumber": plumber,
        "accepted": accepted.id,
        "won": won.id,
        "customer": customer.id,
        "hvac_key": api_key(app, db, hvac),
        "plumber_key": api_key(app, db, plumber),
    }


def _terms(fee: Any, cap: Any) -> dict[str, Any]:
    return {"basis": "flat_per_won", "flat_fee_cents": fee, "cap_cents": cap}


def _requests(w: dict[str, Any], field: str, value: Any) -> tuple[str, str, dict[str, Any]]:
    """Who sends what where, for one money field of the API."""
    if field == "won":
        return (
            "plumber",
            f"/api/v1/referrals/{w['accepted']}/won",
            {
                "job_value_cents": value,
                "job_date": "2026-11-20",
            },
        )
    if field == "job-value":
        return "plumber", f"/api/v1/referrals/{w['won']}/job-value", {"job_value_cents": value}
    if field == "refund":
        return "plumber", f"/api/v1/referrals/{w['won']}/refunds", {"refund_cents": value}
    if field == "customer job":
        return (
            "hvac",
            f"/api/v1/customers/{w['customer']}/jobs",
            {
                "job_date": "2026-11-20",
                "description": "AC tune-up",
                "amount_cents": value,
            },
        )
    if field in ("flat fee", "cap"):
        terms = _terms(value, None) if field == "flat fee" else _terms(100, value)
        return (
            "hvac",
            f"/api/v1/partnerships/{w['partnership']}/amendments",
            {
                "they_refer_to_me": terms,
                "i_refer_to_them": _terms(100, None),
            },
        )
    assert field == "lead price"
    return (
        "hvac",
        "/api/v1/leads",
        {
            "customer_id": w["customer"],
            "trade_id": 1,
            "need": "A new roof",
            "urgency": "flexible",
            "zip_code": "78701",
            "price_cents": value,
            "max_buyers": 1,
            "consent_method": "attested_phone",
            "attested_on": "2026-11-20",
        },
    )


# field, the key errors name it by, minimum, maximum
RANGES = [
    ("won", "job_value_cents", 0, MAX_JOB_CENTS),
    ("job-value", "job_value_cents", 0, MAX_JOB_CENTS),
    ("refund", "refund_cents", 1, MAX_JOB_CENTS),
    ("customer job", "amount_cents", 0, MAX_JOB_CENTS),
    ("flat fee", "flat_fee_cents", 1, MAX_FLAT_FEE_CENTS),
    ("cap", "cap_cents", 1, MAX_FLAT_FEE_CENTS),
    ("lead price", "price_cents", 100, 100_000_00),
]


@pytest.mark.parametrize(("field", "key", "minimum", "maximum"), RANGES, ids=[r[0] for r in RANGES])
def test_every_api_money_field_refuses_what_is_not_an_amount_in_its_range(
    app: Flask, db: Session, world: dict[str, Any], field: str, key: str, minimum: int, maximum: int
) -> None:
    world["partnership"] = db.get(Referral, world["won"]).partnership_id
    client = app.test_client()
    before = row_counts(db)
    values = db.execute(text("SELECT id, job_value_cents, refunded_cents FROM referral")).all()

    optional = field == "cap"  # null: no cap
    for bad in [*out_of_range(minimum, maximum), *NOT_AMOUNTS]:
        if bad is None and optional:
            continue
        who, path, body = _requests(world, field, bad)
        response = client.post(path, json=body, headers=world[f"{who}_key"])

        assert response.status_code == 422, (bad, response.get_json())
        errors = response.get_json()["errors"]
        named = errors.get(key) or errors.get("they_refer_to_me", {}).get(key)
        assert named, (bad, errors)

    assert row_counts(db) == before
    assert db.execute(text("SELECT id, job_value_cents, refunded_cents FROM referral")).all() == (
        values
    )


def test_the_api_takes_the_bounds_themselves(
    app: Flask, db: Session, world: dict[str, Any]
) -> None:
    client = app.test_client()
    key = world["plumber_key"]

    top = client.post(
        f"/api/v1/referrals/{world['won']}/job-value",
        json={"job_value_cents": MAX_JOB_CENTS},
        headers=key,
    )
    zero = client.post(
        f"/api/v1/referrals/{world['accepted']}/won",
        json={"job_value_cents": 0, "job_date": "2026-11-20"},
        headers=key,
    )

    assert top.status_code == 200, top.get_json()
    assert top.get_json()["amount_cents"] == MAX_JOB_CENTS // 10
    assert zero.status_code == 200 and zero.get_json()["job_value_cents"] == 0


def test_a_job_value_of_2_63_minus_1_cannot_be_stored_through_any_route(
    app: Flask, db: Session, world: dict[str, Any]
) -> None:
    plumber = sign_in(app, db.get(User, world["plumber"].user_id))
    hvac = sign_in(app, db.get(User, world["hvac"].user_id))
    api = app.test_client()
    accepted, won = world["accepted"], world["won"]

    answers = {
        "api won": api.post(
            f"/api/v1/referrals/{accepted}/won",
            json={"job_value_cents": HUGE, "job_date": "2026-11-20"},
            headers=world["plumber_key"],
        ).status_code,
        "api job value": api.post(
            f"/api/v1/referrals/{won}/job-value",
            json={"job_value_cents": HUGE},
            headers=world["plumber_key"],
        ).status_code,
        "api customer job": api.post(
            f"/api/v1/customers/{world['customer']}/jobs",
            json={"job_date": "2026-11-20", "description": "x", "amount_cents": HUGE},
            headers=world["hvac_key"],
        ).status_code,
        "form won": plumber.post_form(
            f"/referrals/{accepted}/won",
            {"job_value": f"{HUGE / 100:.2f}", "job_date": "2026-11-20"},
            page=f"/referrals/{accepted}",
        ).status_code,
        "form job value": plumber.post_form(
            f"/referrals/{won}/job-value", {"job_value": f"{HUGE // 100}"}, page=f"/referrals/{won}"
        ).status_code,
        "form customer job": hvac.post_form(
            f"/customers/{world['customer']}/jobs",
            {"job_date": "2026-11-20", "description": "x", "amount": f"${HUGE // 100:,}.07"},
            page=f"/customers/{world['customer']}",
        ).status_code,
        "csv import": hvac.post_form(
            "/customers/import",
            {
                "text": "name,email,job_date,job_description,job_amount\n"
                f"Ben,ben@x.example,2026-11-20,Roof,{HUGE // 100}.07\n",
                "confirm": "yes",
            },
            page="/customers/import",
        ).status_code,
    }

    assert answers == {
        "api won": 422,
        "api job value": 422,
        "api customer job": 422,
        "form won": 422,  # the referral page again, the field marked and the values kept
        "form job value": 302,
        "form customer job": 422,
        "csv import": 422,
    }
    db.expire_all()
    assert db.get(Referral, accepted).status == "accepted"
    assert db.get(Referral, won).job_value_cents == 100_000
    assert db.scalar(select(func.count()).select_from(CustomerJob)) == 0
    assert db.scalar(select(func.max(Referral.job_value_cents))) == 100_000


def test_the_forms_take_dollars_exactly_within_the_range(
    app: Flask, db: Session, world: dict[str, Any]
) -> None:
    plumber = sign_in(app, db.get(User, world["plumber"].user_id))
    won = world["won"]

    plumber.post_form(
        f"/referrals/{won}/job-value", {"job_value": "$1,250.05"}, page=f"/referrals/{won}"
    )
    db.expire_all()
    assert db.get(Referral, won).job_value_cents == 125_005

    refused = plumber.post_form(
        f"/referrals/{won}/job-value", {"job_value": "$100,000,000.01"}, page=f"/referrals/{won}"
    )
    page = plumber.get(refused.headers["Location"]).get_data(as_text=True)
    assert "Job value: Enter an amount from $0.00 to $100,000,000.00." in page
    db.expire_all()
    assert db.get(Referral, won).job_value_cents == 125_005


def test_the_database_refuses_an_amount_out_of_range(app: Flask, db: Session, world: Any) -> None:
    with pytest.raises(IntegrityError):
        db.execute(
            text("UPDATE referral SET job_value_cents = :v WHERE id = :id"),
            {"v": HUGE, "id": world["won"]},
        )
    db.rollback()
    with pytest.raises(IntegrityError):
        db.execute(
            text("UPDATE commission SET amount_cents = :v WHERE referral_id = :id"),
            {"v": MAX_JOB_CENTS + 1, "id": world["won"]},
        )
    db.rollback()
    job = CustomerJob(
        business_id=world["hvac"].business_id,
        customer_id=world["customer"],
        job_date=dt.date(2026, 11, 20),
        description="x",
        amount_cents=MAX_JOB_CENTS + 1,
    )
    db.add(job)
    with pytest.raises(IntegrityError):
        db.commit()
    db.rollback()


def _loose_integers(schema: ma.Schema, path: str) -> list[str]:
    loose = []
    for name, field in schema.fields.items():
        if field.dump_only:
            continue
        if isinstance(field, ma.fields.Integer) and not field.strict:
            loose.append(f"{path}.{name}")
        if isinstance(field, ma.fields.Nested):
            loose += _loose_integers(field.schema, f"{path}.{name}")
    return loose


def test_every_integer_in_an_api_body_is_strict(app: Flask) -> None:
    """1.5 is not an integer and "100" is a string: a JSON body says what it means."""
    loose = []
    for rule in app.url_map.iter_rules():
        view_class = getattr(app.view_functions[rule.endpoint], "view_class", None)
        for method in (rule.methods or set()) if view_class else ():
            view = getattr(view_class, method.lower(), None)
            for argument in getattr(view, "_apidoc", {}).get("arguments", {}).get("parameters", []):
                if argument["in"] == "json":
                    schema = argument["schema"]
                    schema = schema() if isinstance(schema, type) else schema
                    loose += _loose_integers(schema, f"{method} {rule.rule}")
    assert loose == []
