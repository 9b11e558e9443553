"""The customer's pages: answer, withdraw, and bad links that change nothing."""

from __future__ import annotations

import re

from flask import Flask
from sqlmodel import Session, select

from referral.consent.models import ConsentRecord
from referral.referrals.models import Referral
from tests.support.factories import refer
from tests.support.mail import last_email


def test_the_customer_reads_who_gets_what_and_says_yes(
    app: Flask,
    db: Session,
    hvac,
    plumber,
    customer_id: int,
) -> None:
    with app.app_context():
        referral = refer(db, hvac, plumber, customer_id)
    path = last_email(db, to="ana@example.com").path("/consent/")
    customer = app.test_client()

    page = customer.get(path).get_data(as_text=True)
    assert "Drip Plumbing" in page and "Cool Air HVAC" in page
    assert "Yes, share my details" in page and "No thanks" in page
    answered = customer.post_form(path, {"answer": "yes"})

    assert answered.status_code == 200
    assert "Withdraw your consent" in answered.get_data(as_text=True)
    db.refresh(referral)
    assert referral.status == "sent"
    record = db.exec(select(ConsentRecord)).one()
    assert record.user_agent and record.ip == "127.0.0.1"
    assert record.text.split()[0] in page  # the text shown is the text stored


def test_reused_expired_or_tampered_links_show_a_clear_page_and_change_nothing(
    app: Flask,
    db: Session,
    hvac,
    plumber,
    customer_id: int,
) -> None:
    with app.app_context():
        refer(db, hvac, plumber, customer_id)
    path = last_email(db, to="ana@example.com").path("/consent/")
    customer = app.test_client()
    customer.post_form(path, {"answer": "no"})

    reused = customer.post_form(path, {"answer": "yes"}, page="/login")
    tampered = customer.get(path[:-4] + "abcd")

    # The answered link shows the decision that stands; the tampered one, a problem.
    assert reused.status_code == 200
    assert "You said no: nothing was shared." in reused.get_data(as_text=True)
    assert tampered.status_code == 400
    assert "Nothing has changed." in tampered.get_data(as_text=True)
    assert db.exec(select(Referral.status)).all() == ["declined_by_customer"]
    assert db.exec(select(ConsentRecord.decision)).all() == ["refused"]


def test_one_click_withdrawal_from_the_email(
    app: Flask,
    db: Session,
    hvac,
    plumber,
    customer_id: int,
) -> None:
    with app.app_context():
        refer(db, hvac, plumber, customer_id, consent_method="attested_phone")
    path = last_email(db, to="ana@example.com").path("/consent/withdraw/")
    customer = app.test_client()

    page = customer.get(path).get_data(as_text=True)
    assert "Drip Plumbing" in page and "phone number" in page
    done = customer.post_form(path, {})

    assert "Your consent is withdrawn" in done.get_data(as_text=True)
    assert db.exec(select(Referral.status)).all() == ["withdrawn"]
    assert customer.get("/consent/withdraw/forged-token").status_code == 404


def test_from_any_link_the_customer_sees_everything_shared_about_them(
    app: Flask, db: Session, hvac, plumber, customer_id: int
) -> None:  # type: ignore[no-untyped-def]
    from tests.support.factories import actor, agreed_partnership, make_business, make_user

    electric_business = make_business(
        db, name="Spark Electric", trade="electrical", zip_code="78702"
    )
    electric = actor(make_user(db, electric_business), electric_business)
    with app.app_context():
        agreed_partnership(db, hvac, electric)
        refer(db, hvac, plumber, customer_id, consent_method="attested_phone")
        refer(db, hvac, electric, customer_id, consent_method="attested_phone")
    path = last_email(db, to="ana@example.com").path("/consent/withdraw/")
    customer = app.test_client()
    page = customer.get(path).get_data(as_text=True)
    mine = re.search(r'href="https?://[^/"]+(/consent/mine/[^"]+)"', page)
    assert mine, page

    listed = customer.get(mine.group(1)).get_data(as_text=True)

    assert "My consents with Cool Air HVAC" in listed
    assert "Drip Plumbing" in listed and "Spark Electric" in listed
