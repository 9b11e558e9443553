"""Demo data loads once, and a second run changes nothing."""

from __future__ import annotations

from flask import Flask
from sqlmodel import Session, select

from referral.auth.models import User
from referral.businesses.models import Business
from referral.campaigns.models import FollowUpRule
from referral.demo import DEMO_PASSWORD, OPERATOR_EMAIL
from referral.mail.models import OutboxEmail
from referral.partnerships.models import Partnership
from tests.support.factories import sign_in
from tests.support.jobs import run_jobs


def test_the_demo_command_is_idempotent_and_its_logins_work(app: Flask, db: Session) -> None:
    runner = app.test_cli_runner()

    first = runner.invoke(args=["demo"])
    second = runner.invoke(args=["demo"])

    assert first.exit_code == 0, first.output
    assert "Demo data loaded." in first.output and "already present" in second.output
    assert len(db.exec(select(Business)).all()) == 12
    assert len(db.exec(select(User)).all()) == 13
    statuses = sorted(p.status for p in db.exec(select(Partnership)))
    assert statuses == ["active", "active", "active", "proposed"]
    owner = db.exec(select(User).where(User.email == "owner@lone-star-comfort-air.example")).one()
    client = sign_in(app, owner, DEMO_PASSWORD)
    assert "Lone Star Comfort Air" in client.get("/").get_data(as_text=True)
    operator = db.exec(select(User).where(User.email == OPERATOR_EMAIL)).one()
    assert sign_in(app, operator, DEMO_PASSWORD).get("/operator/trades").status_code == 200


def test_the_demo_has_a_partner_offer_and_an_own_offer_to_show_lone_star(
    app: Flask, db: Session
) -> None:
    assert app.test_cli_runner().invoke(args=["demo"]).exit_code == 0
    owner = db.exec(select(User).where(User.email == "owner@lone-star-comfort-air.example")).one()

    page = sign_in(app, owner, DEMO_PASSWORD).get("/offers").get_data(as_text=True)

    assert "Comfort Club service plan" in page  # its own
    assert "10% off a first drain cleaning" in page  # its plumbing partner's


def test_the_demo_spring_campaign_reaches_the_customers_who_said_yes_with_both_offers(
    app: Flask, db: Session
) -> None:
    assert app.test_cli_runner().invoke(args=["demo"]).exit_code == 0

    run_jobs(app)

    sent = {
        email.recipient: email
        for email in db.exec(select(OutboxEmail))
        if "ready for summer" in email.subject
    }
    assert sorted(sent) == ["james.carter@example.com", "maria.gonzalez@example.com"]
    text = sent["maria.gonzalez@example.com"].text_body
    assert "Comfort Club service plan: $40 off the first year" in text
    assert "10% off a first drain cleaning" in text and "/o/" in text
    assert "2400 E Cesar Chavez St" in text  # the sender's postal address


def test_the_demo_follow_up_rule_sends_to_the_customer_whose_job_is_due_when_the_worker_starts(
    app: Flask, db: Session
) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo"]).exit_code == 0

    started = runner.invoke(args=["worker", "--once"])  # what `dev.py start` runs beside the app

    assert started.exit_code == 0, started.output
    followed_up = [
        email
        for email in db.exec(select(OutboxEmail))
        if "time for your AC check-up" in email.subject
    ]
    assert [email.recipient for email in followed_up] == ["james.carter@example.com"]
    assert "Comfort Club service plan: $40 off the first year" in followed_up[0].text_body
    rule = db.exec(select(FollowUpRule)).one()
    owner = db.exec(select(User).where(User.email == "owner@lone-star-comfort-air.example")).one()
    page = sign_in(app, owner, DEMO_PASSWORD).get(f"/follow-ups/{rule.id}")
    assert '<dd id="count-sent">1</dd>' in page.get_data(as_text=True)
