"""A campaign reaches the customers of its segment who agreed to receive
offers, through the real job worker and SMTP, within the business's
per-minute limit; it can be paused, resumed and cancelled halfway with exact
counts; a segment with nobody to email queues nothing."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import Flask
from sqlalchemy import update
from sqlmodel import Session, select

from referral.auth.models import User
from referral.businesses.actor import Actor
from referral.businesses.models import Business
from referral.campaigns import services as campaigns
from referral.campaigns.models import CampaignRecipient, CampaignStatus
from referral.campaigns.services import Segment
from referral.customers import marketing, services
from referral.customers.models import Customer, PermissionSource
from referral.errors import PermissionDenied, ValidationFailed
from referral.jobs.models import Job
from tests.support.api import api_client
from tests.support.factories import actor, make_business, make_user, sign_in
from tests.support.jobs import run_jobs
from tests.support.smtp import Inbox
from tests.support.statements import statements

ADDRESS = "1200 Congress Ave, Austin, TX 78701"
LAST_YEAR = dt.date.today() - dt.timedelta(days=300)


@pytest.fixture
def app_overrides(smtp_server) -> dict[str, object]:  # type: ignore[no-untyped-def]
    _, port = smtp_server
    return {"MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port}


@pytest.fixture
def owner(db: Session) -> Actor:
    business = make_business(db, name="Cool Air HVAC", postal_address=ADDRESS)
    return actor(make_user(db, business, email="owner@coolair.example.com"), business)


def customer(
    db: Session,
    business: Business,
    email: str,
    *,
    permitted: bool = True,
    trade: str = "hvac",
    amount_cents: int = 50_000,
    job_date: dt.date = LAST_YEAR,
    zip_code: str = "78701",
) -> Customer:
    added = services.create_customer(
        session=db,
        business_id=business.id or 0,
        data={"name": f"{email.split('@')[0].title()} Doe", "email": email, "zip_code": zip_code},
    )
    services.add_job(
        session=db,
        customer=added,
        data={
            "job_date": job_date,
            "description": "Job",
            "amount_cents": amount_cents,
            "trade": trade,
        },
    )
    if permitted:
        marketing.grant_permission(db, customer=added, source=PermissionSource.CUSTOMER_FORM)
    db.commit()
    return added


def campaign(db: Session, owner: Actor, segment: Segment | None = None, body: str = "") -> int:
    made = campaigns.create_campaign(
        db,
        actor=owner,
        name="Spring",
        subject="A tune-up for {first_name}",
        body=body or "Hello {first_name},\n\nYour last job was on {last_job_date}.",
        segment=segment or Segment(),
    )
    db.commit()
    assert made.id is not None
    return made.id


def stats(db: Session, owner: Actor, campaign_id: int) -> dict[str, int]:
    db.expire_all()
    found = campaigns.get_campaign(db, business_id=owner.business_id, campaign_id=campaign_id)
    return campaigns.campaign_stats(db, found)


def status(db: Session, owner: Actor, campaign_id: int) -> str:
    db.expire_all()
    return campaigns.get_campaign(db, business_id=owner.business_id, campaign_id=campaign_id).status


def test_a_campaign_to_a_mixed_list_reaches_only_permitted_customers_of_the_segment(
    app: Flask, app_context: None, db: Session, owner: Actor, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp_server
    customer(db, owner.business, "pat@example.com")
    customer(db, owner.business, "sam@example.com")
    customer(db, owner.business, "never@example.com", permitted=False)
    customer(db, owner.business, "plumbing@example.com", trade="plumbing")
    gone = customer(db, owner.business, "gone@example.com")
    marketing.unsubscribe(db, marketing.unsubscribe_token(gone), how="test")
    other = make_business(db, name="Elsewhere", postal_address=ADDRESS)
    customer(db, other, "theirs@example.com")
    campaign_id = campaign(db, owner, Segment(trades=("hvac",)))

    sent = campaigns.send_campaign(db, actor=owner, campaign_id=campaign_id)
    db.commit()
    run_jobs(app)

    assert sent.recipients_total == 2
    assert sorted(m["To"] for m in inbox.messages) == ["pat@example.com", "sam@example.com"]
    [message] = inbox.to("pat@example.com")
    assert message["Subject"] == "A tune-up for Pat"
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert f"{LAST_YEAR:%B} {LAST_YEAR.day}, {LAST_YEAR.year}" in text
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Cool Air HVAC, 1200 Congress Ave" in text
    assert stats(db, owner, campaign_id) == {
        "queued": 0,
        "sent": 2,
        "failed": 0,
        "skipped": 0,
        "cancelled": 0,
        "total": 2,
    }
    assert status(db, owner, campaign_id) == CampaignStatus.SENT


def test_each_email_costs_three_statements_however_long_the_list(
    app: Flask, app_context: None, db: Session, owner: Actor, smtp_server: tuple[Inbox, int]
) -> None:
    """The campaign's guard, the recipient's claim, and the customer read with
    their last job date and suppression; what a batch shares is read once."""
    inbox, _ = smtp_server
    counted = []
    for size, trade in ((2, "hvac"), (6, "plumbing")):
        for n in range(size):
            customer(db, owner.business, f"{trade}-{n}@example.com", trade=trade)
        campaign_id = campaign(db, owner, Segment(trades=(trade,)))
        campaigns.send_campaign(db, actor=owner, campaign_id=campaign_id)
        db.commit()
        with statements(app) as sent:
            run_jobs(app)
        counted.append(len(sent))

    assert len(inbox.messages) == 8
    assert (counted[1] - counted[0]) / 4 == 3


def test_the_segment_is_counted_with_a_sample_before_sending(
    app: Flask, app_context: None, db: Session, owner: Actor
) -> None:
    recent = dt.date.today() - dt.timedelta(days=10)
    customer(db, owner.business, "big@example.com", amount_cents=900_000, job_date=recent)
    customer(db, owner.business, "small@example.com", amount_cents=10_000, job_date=recent)
    customer(db, owner.business, "old@example.com", amount_cents=900_000)
    customer(db, owner.business, "far@example.com", amount_cents=900_000, zip_code="10001")
    customer(db, owner.business, "no@example.com", amount_cents=900_000, permitted=False)

    preview = campaigns.preview_segment(
        db,
        business=owner.business,
        segment=Segment(
            last_job_from=recent - dt.timedelta(days=30),
            min_lifetime_cents=100_000,
            zip_code="78701",
            radius_miles=20,
        ),
    )
    wide = campaigns.preview_segment(db, business=owner.business, segment=Segment())

    assert (preview.matched, preview.permitted) == (1, 1)
    assert [s["email"] for s in preview.sample] == ["big@example.com"]
    assert (wide.matched, wide.permitted) == (5, 4)


def test_a_segment_matching_nobody_or_nobody_permitted_queues_nothing(
    app: Flask, app_context: None, db: Session, owner: Actor
) -> None:
    customer(db, owner.business, "no@example.com", permitted=False)
    nobody = campaign(db, owner, Segment(trades=("roofing",)))
    unpermitted = campaign(db, owner, Segment(trades=("hvac",)))

    for campaign_id, message in ((nobody, "No customer matches"), (unpermitted, "none has given")):
        with pytest.raises(ValidationFailed, match=message):
            campaigns.send_campaign(db, actor=owner, campaign_id=campaign_id)
        db.rollback()

    assert db.exec(select(CampaignRecipient)).all() == []
    assert status(db, owner, nobody) == status(db, owner, unpermitted) == CampaignStatus.DRAFT


def test_an_unknown_merge_field_is_a_form_error_and_staff_cannot_run_campaigns(
    app: Flask, app_context: None, db: Session, owner: Actor
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        campaign(db, owner, body="Hi {first_name}, {favourite_colour} suits you")
    staff = actor(make_user(db, owner.business, role="staff"), owner.business)

    assert "{favourite_colour}" in refused.value.errors["body"][0]
    with pytest.raises(PermissionDenied):
        campaign(db, staff)


def test_a_campaign_cancelled_halfway_sends_nothing_more_and_counts_exactly(
    app: Flask, app_context: None, db: Session, owner: Actor, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp_server
    app.config["CAMPAIGN_SENDS_PER_MINUTE"] = 3  # the business's limit stops the first run at 3
    for n in range(7):
        customer(db, owner.business, f"c{n}@example.com")
    campaign_id = campaign(db, owner)
    campaigns.send_campaign(db, actor=owner, campaign_id=campaign_id)
    db.commit()

    run_jobs(app)
    assert len(inbox.messages) == 3
    campaigns.cancel_campaign(db, actor=owner, campaign_id=campaign_id)
    db.commit()
    db.execute(update(Job).values(run_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
    db.execute(update(CampaignRecipient).values(sent_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
    db.commit()
    run_jobs(app)

    assert len(inbox.messages) == 3
    assert stats(db, owner, campaign_id) == {
        "queued": 0,
        "sent": 3,
        "failed": 0,
        "skipped": 0,
        "cancelled": 4,
        "total": 7,
    }
    assert status(db, owner, campaign_id) == CampaignStatus.CANCELLED


def test_pause_holds_the_rest_and_resume_sends_it_skipping_who_unsubscribed_meanwhile(
    app: Flask, app_context: None, db: Session, owner: Actor, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp_server
    people = [customer(db, owner.business, f"c{n}@example.com") for n in range(3)]
    campaign_id = campaign(db, owner)
    campaigns.send_campaign(db, actor=owner, campaign_id=campaign_id)
    campaigns.pause_campaign(db, actor=owner, campaign_id=campaign_id)
    db.commit()

    run_jobs(app)
    assert inbox.messages == []
    marketing.unsubscribe(db, marketing.unsubscribe_token(people[0]), how="test")
    services.erase_customer(
        session=db, business_id=owner.business_id, customer_id=people[1].id or 0
    )
    campaigns.resume_campaign(db, actor=owner, campaign_id=campaign_id)
    db.commit()
    run_jobs(app)

    assert [m["To"] for m in inbox.messages] == ["c2@example.com"]
    counts = stats(db, owner, campaign_id)
    assert (counts["sent"], counts["skipped"], counts["cancelled"]) == (1, 1, 1)
    assert status(db, owner, campaign_id) == CampaignStatus.SENT


def test_a_scheduled_campaign_waits_for_its_time(
    app: Flask, app_context: None, db: Session, owner: Actor, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp_server
    customer(db, owner.business, "pat@example.com")
    campaign_id = campaign(db, owner)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)

    campaigns.send_campaign(db, actor=owner, campaign_id=campaign_id, at=later)
    db.commit()
    run_jobs(app)
    assert inbox.messages == [] and status(db, owner, campaign_id) == CampaignStatus.SCHEDULED
    db.execute(update(Job).values(run_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
    db.commit()
    run_jobs(app)

    assert [m["To"] for m in inbox.messages] == ["pat@example.com"]
    assert status(db, owner, campaign_id) == CampaignStatus.SENT


def test_no_campaign_leaves_without_a_postal_address(
    app: Flask, app_context: None, db: Session
) -> None:
    business = make_business(db, name="No Address Co")
    someone = actor(make_user(db, business), business)
    customer(db, business, "pat@example.com")
    campaign_id = campaign(db, someone)

    with pytest.raises(marketing.MarketingRefused, match="postal address"):
        campaigns.send_campaign(db, actor=someone, campaign_id=campaign_id)


def test_the_pages_compose_preview_and_send_and_show_a_script_as_text(
    app: Flask, db: Session, owner: Actor, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp_server
    with app.app_context():
        customer(db, owner.business, "pat@example.com")
    browser = sign_in(app, _user(db))
    form = {
        "name": "Spring",
        "subject": "Hello {first_name}",
        "body": "Hi {first_name}\n\n<script>alert(1)</script>",
        "trades": "hvac",
    }

    previewed = browser.post_form("/campaigns/new", {**form, "action": "preview"})
    bad = browser.post_form("/campaigns/new", {**form, "body": "{nope}", "action": "save"})
    saved = browser.post_form("/campaigns/new", {**form, "action": "save"})
    page_path = saved.headers["Location"]
    page = browser.get(page_path).get_data(as_text=True)
    sent = browser.post_form(f"{page_path}/send", {}, page=page_path)
    with app.app_context():
        run_jobs(app)
    progress = browser.get(f"{page_path}/status").json

    assert previewed.status_code == 200
    assert 'id="permitted-count">1<' in previewed.get_data(as_text=True)
    assert bad.status_code == 422 and "{nope}" in bad.get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    assert sent.status_code == 302
    assert [m["To"] for m in inbox.messages] == ["pat@example.com"]
    assert progress["done"] is True and progress["state"].startswith("sent:")


def _user(db: Session) -> User:
    return db.exec(select(User).where(User.email == "owner@coolair.example.com")).one()


def test_the_api_creates_sends_shows_and_cancels(
    app: Flask, db: Session, owner: Actor, smtp_server: tuple[Inbox, int]
) -> None:
    with app.app_context():
        customer(db, owner.business, "pat@example.com")
    api = api_client(app, db, _user(db))

    refused = api.post("/campaigns", {"name": "X", "subject": "{nope}", "body": "Hi"})
    created = api.post(
        "/campaigns",
        {
            "name": "Spring",
            "subject": "Hi {first_name}",
            "body": "Hello",
            "segment": {"trades": ["hvac"]},
        },
    )
    campaign_id = created.json["id"]
    preview = api.post("/campaigns/preview", {"trades": ["hvac"]})
    scheduled = api.post(
        f"/campaigns/{campaign_id}/send",
        {"scheduled_for": (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()},
    )
    cancelled = api.post(f"/campaigns/{campaign_id}/cancel")
    again = api.post(f"/campaigns/{campaign_id}/cancel")
    shown = api.get(f"/campaigns/{campaign_id}")

    assert refused.status_code == 422 and "subject" in refused.json["errors"]
    assert created.status_code == 201 and created.json["status"] == "draft"
    assert preview.json["permitted"] == 1
    assert scheduled.status_code == 200 and scheduled.json["status"] == "scheduled"
    assert cancelled.json["status"] == "cancelled" and again.status_code == 409
    assert shown.json["stats"]["cancelled"] == 1
    assert re.match(r"^\d+$", str(shown.json["recipients_total"]))


def test_a_batch_goes_out_over_one_smtp_connection(
    app: Flask, app_context: None, db: Session, owner: Actor, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp_server
    for n in range(4):
        customer(db, owner.business, f"pat-{n}@example.com")
    campaign_id = campaign(db, owner, Segment(trades=("hvac",)))
    campaigns.send_campaign(db, actor=owner, campaign_id=campaign_id)
    db.commit()

    run_jobs(app)

    assert (len(inbox.messages), inbox.connections) == (4, 1)
