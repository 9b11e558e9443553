"""A campaign carries offers: each email has the customer's personal link to
its own offer and to its partner's; a yes to the partner's offer is a
consented referral that the partner accepts and wins, a yes to its own is an
opportunity it wins; the campaign then shows what it brought, to the cent."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import Flask
from sqlmodel import Session, select

from referral.auth.models import User
from referral.businesses.actor import Actor
from referral.campaigns import services as campaigns
from referral.campaigns.services import Segment
from referral.commissions.services import report_refund
from referral.customers import marketing
from referral.customers.models import PermissionSource
from referral.customers.services import create_customer
from referral.errors import ValidationFailed
from referral.offers import services as offers
from referral.offers.models import Opportunity
from referral.referrals import services as referrals
from referral.referrals.models import Referral
from tests.support.factories import actor, agreed_partnership, make_business, make_user, sign_in
from tests.support.jobs import run_jobs
from tests.support.offers import publish
from tests.support.smtp import Inbox

ADDRESS = "1200 Congress Ave, Austin, TX 78701"
LINK = re.compile(r"https?://\S+(/o/\S+)")


@pytest.fixture
def app_overrides(smtp_server) -> dict[str, object]:  # type: ignore[no-untyped-def]
    _, port = smtp_server
    return {"MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port}


@pytest.fixture
def hvac(db: Session) -> Actor:
    business = make_business(
        db, name="Cool Air HVAC", trade="hvac", zip_code="78701", postal_address=ADDRESS
    )
    return actor(make_user(db, business, email="alex@coolair.example"), business)


@pytest.fixture
def plumber(app: Flask, db: Session, hvac: Actor) -> Actor:
    business = make_business(db, name="Drip Plumbing", trade="plumbing", zip_code="78704")
    partner = actor(make_user(db, business, email="blair@drip.example"), business)
    with app.app_context():
        agreed_partnership(db, hvac, partner)  # 10% each way
    return partner


def test_a_yes_in_a_campaign_email_becomes_a_won_referral_and_a_won_sale_counted_to_the_cent(
    app: Flask,
    app_context: None,
    db: Session,
    hvac: Actor,
    plumber: Actor,
    smtp_server: tuple[Inbox, int],
) -> None:
    inbox, _ = smtp_server
    ana = create_customer(
        session=db,
        business_id=hvac.business_id,
        data={"name": "Ana Diaz", "email": "ana@example.com", "zip_code": "78702"},
    )
    marketing.grant_permission(db, customer=ana, source=PermissionSource.CUSTOMER_FORM)
    db.commit()
    drain = publish(db, plumber)
    plan = publish(db, hvac, kind="own", title="Comfort Club", benefit="$40 off the first year")
    made = campaigns.create_campaign(
        db,
        actor=hvac,
        name="Spring",
        subject="Spring offers for {first_name}",
        body="Hello {first_name},",
        segment=Segment(),
        offer_ids=[drain.id or 0, plan.id or 0],
    )
    db.commit()

    campaigns.send_campaign(db, actor=hvac, campaign_id=made.id or 0)
    db.commit()
    run_jobs(app)

    [message] = inbox.to("ana@example.com")
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "First drain cleaning: 10% off a first drain cleaning" in text
    assert "Comfort Club: $40 off the first year" in text
    assert text.index("Comfort Club") < text.index(
        "Cool Air HVAC, 1200 Congress Ave"
    )  # above the footer
    drain_path, plan_path = LINK.findall(text)

    customer = app.test_client()
    assert "Drip Plumbing" in customer.get(drain_path).get_data(as_text=True)
    assert customer.post_form(drain_path).status_code == 200
    assert customer.post_form(drain_path, page="/login").status_code == 200  # a second click
    assert customer.post_form(plan_path).status_code == 200
    referral = db.exec(select(Referral)).one()
    opportunity = db.exec(select(Opportunity)).one()
    assert referral.consent_method == "campaign_click"

    referrals.accept_referral(session=db, actor=plumber, referral_id=referral.id or 0)
    referrals.report_won(
        session=db,
        actor=plumber,
        referral_id=referral.id or 0,
        job_value_cents=80_000,
        job_date=dt.date.today(),
    )
    offers.win_opportunity(
        session=db,
        actor=hvac,
        opportunity_id=opportunity.id or 0,
        amount_cents=30_000,
        won_on=dt.date.today(),
    )
    db.commit()

    assert campaigns.campaign_results(db, made) == {
        "unsubscribed": 0,
        "said_yes": 2,
        "referrals_made": 1,
        "referrals_accepted": 1,
        "won": 2,
        "revenue_cents": 110_000,
        "own_revenue_cents": 30_000,
        "commission_cents": 8_000,  # the partnership's 10% of the plumber's job
    }

    # A refund lowers the revenue, as the dashboard's partner revenue counts it.
    report_refund(
        session=db,
        business_id=plumber.business_id,
        referral_id=referral.id or 0,
        refund_cents=20_000,
    )
    db.commit()
    assert campaigns.campaign_results(db, made)["revenue_cents"] == 90_000


def test_a_sent_campaign_page_shows_what_it_brought(app: Flask, db: Session, hvac: Actor) -> None:
    with app.app_context():
        ana = create_customer(
            session=db, business_id=hvac.business_id, data={"name": "Ana", "email": "a@example.com"}
        )
        marketing.grant_permission(db, customer=ana, source=PermissionSource.CUSTOMER_FORM)
        made = campaigns.create_campaign(
            db, actor=hvac, name="Spring", subject="Hi", body="Hello", segment=Segment()
        )
        campaigns.send_campaign(db, actor=hvac, campaign_id=made.id or 0)
        db.commit()
        run_jobs(app)
    owner = db.get(User, hvac.user_id)
    assert owner is not None

    shown = sign_in(app, owner).get(f"/campaigns/{made.id}").get_data(as_text=True)

    assert 'id="result-said-yes">0<' in shown and 'id="result-revenue">$0.00<' in shown


def test_a_campaign_may_carry_only_its_own_and_its_partners_current_offers(
    app: Flask, app_context: None, db: Session, hvac: Actor, plumber: Actor
) -> None:
    stranger = make_business(db, name="Far Away Roofing", trade="roofing", zip_code="78660")
    theirs = publish(db, actor(make_user(db, stranger, email="r@far.example"), stranger))
    ended = publish(db, plumber, title="Old offer")
    offers.end_offer(session=db, actor=plumber, offer_id=ended.id or 0)
    db.commit()

    for offer_id in (theirs.id, ended.id, 999_999):
        with pytest.raises(ValidationFailed) as refused:
            campaigns.create_campaign(
                db,
                actor=hvac,
                name="Spring",
                subject="Hi",
                body="Hello",
                segment=Segment(),
                offer_ids=[offer_id or 0],
            )
        assert "offer_ids" in refused.value.errors
    assert campaigns.offers_to_include(db, hvac.business_id) == []
