"""Campaigns and follow-ups on the dashboard: per campaign and per follow-up
rule, the emails sent, the customers who unsubscribed through them, clicked
yes, were referred, and the jobs and revenue that came of it; with its chart,
its CSV, the campaign's own page and API answer, and a page that still renders
when the figure cannot be computed."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import re
from dataclasses import dataclass
from email.message import EmailMessage

import pytest
from flask import Flask
from sqlmodel import Session, select

from referral.analytics import outreach
from referral.analytics.outreach import campaigns_and_follow_ups
from referral.analytics.sql import Period
from referral.auth.models import User
from referral.businesses.actor import Actor
from referral.businesses.models import Business
from referral.campaigns import followups
from referral.campaigns import services as campaigns
from referral.campaigns.models import Campaign, CampaignRecipient
from referral.campaigns.services import Segment
from referral.commissions.models import Commission
from referral.customers import marketing
from referral.customers.models import Customer, MarketingPermissionEvent, PermissionSource
from referral.customers.services import add_job, create_customer
from referral.db import utcnow
from referral.localtime import local_date, zone
from referral.offers import services as offers
from referral.offers.models import OfferReferral, Opportunity, SourceKind
from referral.referrals import services as referrals
from referral.referrals.models import Referral
from tests.support.api import api_client
from tests.support.factories import actor, agreed_partnership, make_business, make_user, sign_in
from tests.support.jobs import run_jobs
from tests.support.offers import publish
from tests.support.smtp import Inbox
from tests.support.statements import statements

ADDRESS = "1200 Congress Ave, Austin, TX 78701"
OFFER_PATH = re.compile(r"https?://\S+(/o/\S+)")


@pytest.fixture
def app_overrides(smtp_server) -> dict[str, object]:  # type: ignore[no-untyped-def]
    _, port = smtp_server
    return {"MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port}


@dataclass
class Outreach:
    hvac: Actor
    campaign: Campaign
    rule_id: int


def text_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]


def unsubscribe_path(message: EmailMessage) -> str:
    link = re.search(
        r"<https?://[^/>]+(/marketing/unsubscribe/[^>]+)>", message["List-Unsubscribe"]
    )
    assert link, message["List-Unsubscribe"]
    return link.group(1)


def campaigns_section(page: str) -> str:
    return page.split('id="figure-campaigns"')[1].split("</section>")[0]


def past_customer(db: Session, who: Actor, name: str, job_date: dt.date) -> Customer:
    email = f"{name.split()[0].lower()}@example.com"
    customer = create_customer(
        session=db, business_id=who.business_id, data={"name": name, "email": email}
    )
    add_job(
        session=db,
        customer=customer,
        data={"job_date": job_date, "description": "AC repair", "amount_cents": 20_000},
    )
    marketing.grant_permission(db, customer=customer, source=PermissionSource.CUSTOMER_FORM)
    db.commit()
    return customer


def build_outreach(app: Flask, db: Session, inbox: Inbox) -> Outreach:
    """Cool Air HVAC sends a spring campaign with its plumbing partner's offer
    to Ana and Bo, and follows up Ana's job of eight days ago with its service
    plan. Bo unsubscribes with the campaign's link; Ana says yes to the drain
    cleaning (the plumber wins $800) and to the plan in the follow-up (Cool Air
    wins $300). Another business's campaign is not Cool Air's."""
    hvac_business = make_business(
        db, name="Cool Air HVAC", trade="hvac", zip_code="78701", postal_address=ADDRESS
    )
    hvac = actor(make_user(db, hvac_business, email="alex@coolair.example"), hvac_business)
    plumbing = make_business(db, name="Drip Plumbing", trade="plumbing", zip_code="78704")
    plumber = actor(make_user(db, plumbing, email="blair@drip.example"), plumbing)
    agreed_partnership(db, hvac, plumber)  # 10% each way
    today = local_date(utcnow(), zone(hvac_business.zone_name))
    past_customer(db, hvac, "Ana Diaz", today - dt.timedelta(days=8))
    past_customer(db, hvac, "Bo Reyes", today - dt.timedelta(days=400))
    drain = publish(db, plumber)
    plan = publish(db, hvac, kind="own", title="Comfort Club", benefit="$40 off the first year")
    spring = campaigns.create_campaign(
        db,
        actor=hvac,
        name="Spring",
        subject="Spring offers for {first_name}",
        body="Hello {first_name},",
        segment=Segment(),
        offer_ids=[drain.id or 0],
    )
    rule = followups.create_rule(
        db,
        actor=hvac,
        name="A week after",
        days_after=7,
        subject="How is it, {first_name}?",
        body="Hello {first_name},",
        offer_ids=[plan.id or 0],
    )
    campaigns.send_campaign(db, actor=hvac, campaign_id=spring.id or 0)
    followups.keep_follow_ups_queued(db)
    db.commit()
    elsewhere = make_business(db, name="Elsewhere HVAC", postal_address=ADDRESS)
    theirs = actor(make_user(db, elsewhere), elsewhere)
    past_customer(db, theirs, "Di Lopez", today - dt.timedelta(days=8))
    other = campaigns.create_campaign(
        db, actor=theirs, name="Theirs", subject="Hi", body="Hello", segment=Segment()
    )
    campaigns.send_campaign(db, actor=theirs, campaign_id=other.id or 0)
    db.commit()
    run_jobs(app)

    customer = app.test_client()
    [bo_spring] = [m for m in inbox.to("bo@example.com") if "Spring" in m["Subject"]]
    customer.post(unsubscribe_path(bo_spring), data={"List-Unsubscribe": "One-Click"})
    [ana_spring] = [m for m in inbox.to("ana@example.com") if "Spring" in m["Subject"]]
    [ana_follow_up] = [m for m in inbox.to("ana@example.com") if "How is it" in m["Subject"]]
    for message in (ana_spring, ana_follow_up):
        [path] = OFFER_PATH.findall(text_of(message))
        assert customer.post_form(path).status_code == 200
    referral = db.exec(select(Referral)).one()
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
        opportunity_id=db.exec(select(Opportunity)).one().id or 0,
        amount_cents=30_000,
        won_on=dt.date.today(),
    )
    db.commit()
    return Outreach(hvac=hvac, campaign=spring, rule_id=rule.id or 0)


@pytest.fixture
def world(app: Flask, db: Session, smtp_server: tuple[Inbox, int]) -> Outreach:
    inbox, _ = smtp_server
    with app.app_context():  # only while building: the pages' requests have their own
        return build_outreach(app, db, inbox)


def test_each_campaign_and_follow_up_counts_what_it_sent_and_brought(
    db: Session, world: Outreach
) -> None:
    rows = campaigns_and_follow_ups(db, world.hvac.business_id)

    assert [
        (
            r.kind_label,
            r.name,
            r.sent,
            r.unsubscribed,
            r.said_yes,
            r.referrals_made,
            r.won,
            r.revenue_cents,
        )
        for r in rows
    ] == [  # the best earner first
        ("Campaign", "Spring", 2, 1, 1, 1, 1, 80_000),
        ("Follow-up", "A week after", 1, 0, 1, 0, 1, 30_000),
    ]


def test_the_dashboard_draws_it_beside_its_table_and_its_csv_has_the_same_rows(
    app: Flask, db: Session, world: Outreach
) -> None:
    browser = sign_in(app, db.get(User, world.hvac.user_id))

    page = browser.get("/analytics").get_data(as_text=True)
    exported = browser.get("/analytics/campaigns.csv")

    section = campaigns_section(page)
    assert "Campaigns and follow-ups" in section
    assert "Revenue from campaigns and follow-ups" in section  # the chart's title
    assert "Campaign: Spring" in section and "$800.00 · 1 won" in section
    assert "Follow-up: A week after" in section and "$300.00 · 1 won" in section
    assert "Theirs" not in section
    assert exported.status_code == 200
    assert exported.headers["Content-Disposition"] == 'attachment; filename="campaigns.csv"'
    assert list(csv.reader(io.StringIO(exported.get_data(as_text=True)))) == [
        [
            "Campaign or follow-up",
            "Kind",
            "Sent",
            "Unsubscribed",
            "Clicked yes",
            "Referrals made",
            "Jobs won",
            "Revenue",
        ],
        ["Spring", "Campaign", "2", "1", "1", "1", "1", "800.00"],
        ["A week after", "Follow-up", "1", "0", "1", "0", "1", "300.00"],
    ]


def test_the_api_and_the_campaign_and_rule_pages_show_the_same_counts(
    app: Flask, db: Session, world: Outreach
) -> None:
    owner = db.get(User, world.hvac.user_id)
    assert owner is not None
    browser = sign_in(app, owner)
    api = api_client(app, db, owner)

    campaign_page = browser.get(f"/campaigns/{world.campaign.id}").get_data(as_text=True)
    rule_page = browser.get(f"/follow-ups/{world.rule_id}").get_data(as_text=True)
    campaign_answer = api.get(f"/campaigns/{world.campaign.id}")
    rule_answer = api.get(f"/follow-ups/{world.rule_id}")

    figure = api.get("/analytics/campaigns")
    assert [
        (r["kind"], r["name"], r["unsubscribed"], r["revenue_cents"]) for r in figure.json["items"]
    ] == [
        ("campaign", "Spring", 1, 80_000),
        ("follow_up", "A week after", 0, 30_000),
    ]
    assert '<dd id="result-unsubscribed">1</dd>' in campaign_page
    assert '<dd id="result-referrals-made">1</dd>' in campaign_page
    assert '<dd id="result-unsubscribed">0</dd>' in rule_page
    assert campaign_answer.json["results"]["unsubscribed"] == 1
    assert campaign_answer.json["results"]["referrals_made"] == 1
    assert rule_answer.json["results"]["unsubscribed"] == 0
    assert rule_answer.json["results"]["said_yes"] == 1


def test_before_anything_is_earned_the_chart_shows_the_emails_sent(app: Flask, db: Session) -> None:
    business = make_business(db, name="Quiet HVAC", postal_address=ADDRESS)
    owner = make_user(db, business, email="owner@quiet.example")
    with app.app_context():
        followups.create_rule(
            db,
            actor=actor(owner, business),
            name="A week after",
            days_after=7,
            subject="Hi",
            body="Hello",
        )
        db.commit()

    page = sign_in(app, owner).get("/analytics").get_data(as_text=True)

    section = campaigns_section(page)
    assert "Emails sent by campaigns and follow-ups" in section
    assert "0 sent, 0 yes" in section


def moved_back(db: Session, campaign: Campaign, days: int) -> None:
    """The campaign, its emails and everything they brought happened `days`
    earlier: made, started, sent, unsubscribed, referred, won and commissioned."""
    earlier = dt.timedelta(days=days)

    def shift(row: object, *names: str) -> None:
        for name in names:
            if getattr(row, name) is not None:
                setattr(row, name, getattr(row, name) - earlier)

    shift(campaign, "created_at", "started_at", "finished_at", "last_sent_at")
    for recipient in db.exec(
        select(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign.id)
    ):
        shift(recipient, "created_at", "sent_at")
    for event in db.exec(
        select(MarketingPermissionEvent).where(
            MarketingPermissionEvent.email_kind == SourceKind.CAMPAIGN.value,
            MarketingPermissionEvent.email_id == campaign.id,
        )
    ):
        shift(event, "created_at")
    for yes in db.exec(
        select(OfferReferral).where(
            OfferReferral.source_kind == SourceKind.CAMPAIGN.value,
            OfferReferral.source_id == campaign.id,
        )
    ):
        shift(yes, "created_at")
        shift(
            db.get(Referral, yes.referral_id), "created_at", "sent_at", "accepted_at", "closed_at"
        )
        for commission in db.exec(
            select(Commission).where(Commission.referral_id == yes.referral_id)
        ):
            shift(commission, "created_at")
    db.commit()


def in_last_months(
    db: Session, world: Outreach, months: int
) -> list[tuple[str, int, int, int, int, int]]:
    """The figure for the last `months` months of Cool Air's zone: name, sent,
    unsubscribed, said yes, won and revenue."""
    hvac = db.get(Business, world.hvac.business_id)
    assert hvac is not None
    period = Period.last_months_until(months, now=utcnow(), zone=zone(hvac.zone_name))
    return [
        (r.name, r.sent, r.unsubscribed, r.said_yes, r.won, r.revenue_cents)
        for r in campaigns_and_follow_ups(db, hvac.id or 0, period=period)
    ]


def test_a_period_counts_the_campaigns_and_follow_ups_by_what_happened_in_it(
    app: Flask, db: Session, world: Outreach
) -> None:
    """Spring went out five months ago, and all it brought came then; Autumn
    went to Ana last week. The last three months show Autumn and the
    follow-up only; the last twelve show Spring too, on the dashboard, in its
    CSV and in the API. Spring's own page still counts all of time."""
    moved_back(db, world.campaign, days=150)
    with app.app_context():
        autumn = campaigns.create_campaign(
            db,
            actor=world.hvac,
            name="Autumn",
            subject="Autumn news",
            body="Hello {first_name},",
            segment=Segment(),
        )
        campaigns.send_campaign(db, actor=world.hvac, campaign_id=autumn.id or 0)
        db.commit()
        run_jobs(app)
    moved_back(db, autumn, days=7)
    owner = db.get(User, world.hvac.user_id)
    assert owner is not None
    browser = sign_in(app, owner)
    api = api_client(app, db, owner)

    def exported(months: int) -> list[list[str]]:
        answer = browser.get(f"/analytics/campaigns.csv?months={months}")
        return [
            row[:3] + row[-1:] for row in csv.reader(io.StringIO(answer.get_data(as_text=True)))
        ][1:]

    def answered(months: int) -> list[tuple[str, int, int]]:
        items = api.get(f"/analytics/campaigns?months={months}").json["items"]
        return [(r["name"], r["sent"], r["revenue_cents"]) for r in items]

    assert in_last_months(db, world, 3) == [
        ("A week after", 1, 0, 1, 1, 30_000),
        ("Autumn", 1, 0, 0, 0, 0),
    ]
    assert in_last_months(db, world, 12) == [
        ("Spring", 2, 1, 1, 1, 80_000),
        ("A week after", 1, 0, 1, 1, 30_000),
        ("Autumn", 1, 0, 0, 0, 0),
    ]
    assert exported(3) == [
        ["A week after", "Follow-up", "1", "300.00"],
        ["Autumn", "Campaign", "1", "0.00"],
    ]
    assert exported(12)[0] == ["Spring", "Campaign", "2", "800.00"]
    assert answered(3) == [("A week after", 1, 30_000), ("Autumn", 1, 0)]
    assert answered(12) == [("Spring", 2, 80_000), ("A week after", 1, 30_000), ("Autumn", 1, 0)]
    recent = browser.get("/analytics?months=3").get_data(as_text=True)
    assert "Autumn" in campaigns_section(recent) and "Spring" not in campaigns_section(recent)
    assert "in the period above" in campaigns_section(recent)
    assert api.get(f"/campaigns/{world.campaign.id}").json["results"]["unsubscribed"] == 1


def test_a_job_won_in_the_period_counts_there_though_its_campaign_went_out_before_it(
    db: Session, world: Outreach
) -> None:
    """As the partners' revenue counts it: by the day the job was won."""
    moved_back(db, world.campaign, days=150)
    referral = db.exec(select(Referral)).one()
    referral.closed_at = utcnow()
    db.commit()

    assert in_last_months(db, world, 3)[0] == ("Spring", 0, 0, 0, 1, 80_000)
    assert in_last_months(db, world, 12)[0] == ("Spring", 2, 1, 1, 1, 80_000)


def _broken(*_args: object, **_kwargs: object) -> None:
    raise OverflowError("integer out of range")


def test_a_failing_campaigns_figure_is_unavailable_and_the_rest_of_the_page_renders(
    app: Flask,
    db: Session,
    world: Outreach,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(outreach, "campaigns_and_follow_ups", _broken)
    client = sign_in(app, db.get(User, world.hvac.user_id))

    with caplog.at_level(logging.ERROR, logger="referral.analytics.page"):
        response = client.get("/analytics")

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    section = campaigns_section(page)
    assert "Unavailable: this figure cannot be computed right now." in section
    assert "Ana Diaz" in page  # the customers figure
    assert 'id="figure-second-sales"' in page and "First sale since campaigns" in page
    assert "dashboard figure outreach could not be computed" in caplog.text
    assert client.get("/analytics/campaigns.csv").status_code == 503
    assert client.get("/analytics/second-sales.csv").status_code == 200


def test_the_figure_takes_two_statements_however_many_campaigns_there_are(
    app: Flask, db: Session, world: Outreach
) -> None:
    def statements_for_figure() -> int:
        with statements(app) as sent:
            campaigns_and_follow_ups(db, world.hvac.business_id)
        return len(sent)

    before = statements_for_figure()
    with app.app_context():
        for n in range(3):
            more = campaigns.create_campaign(
                db,
                actor=world.hvac,
                name=f"More {n}",
                subject="Hi",
                body="Hello",
                segment=Segment(),
            )
            campaigns.send_campaign(db, actor=world.hvac, campaign_id=more.id or 0)
        db.commit()

    assert before == 2
    assert statements_for_figure() == 2
    assert len(campaigns_and_follow_ups(db, world.hvac.business_id)) == 5
