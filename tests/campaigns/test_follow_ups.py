"""Follow-up rules: N days after a job, at the rule's hour in the business's
time zone, the job worker emails the customer once (through the real worker
and SMTP); customers the marketing rule refuses are skipped with the reason;
a paused rule sends nothing; an unknown merge field is refused."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import Engine
from sqlmodel import Session, select

from referral.auth.models import User
from referral.businesses.actor import Actor
from referral.businesses.models import Business
from referral.campaigns import followups
from referral.campaigns.models import FollowUpRule, FollowUpSend
from referral.customers import marketing, services
from referral.customers.models import (
    Customer,
    CustomerJob,
    PermissionSource,
    SuppressionReason,
)
from referral.errors import PermissionDenied, ValidationFailed
from referral.offers import services as offers_services
from referral.offers.landing import say_yes
from referral.offers.links import Source, offer_links
from referral.offers.models import OfferKind, SourceKind
from referral.offers.services import OfferInput
from tests.support.api import api_client
from tests.support.factories import actor, make_business, make_user, sign_in
from tests.support.jobs import run_jobs
from tests.support.smtp import Inbox

ADDRESS = "1200 Congress Ave, Austin, TX 78701"
CHICAGO = ZoneInfo("America/Chicago")
# Clocks in Chicago spring forward on 2026-03-08 at 02:00 (CST, UTC-6, to CDT, UTC-5).
JOB_DAY = dt.date(2026, 3, 1)
SEND_DAY = dt.date(2026, 3, 8)


@pytest.fixture
def app_overrides(smtp_server) -> dict[str, object]:  # type: ignore[no-untyped-def]
    _, port = smtp_server
    return {"MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port}


@pytest.fixture
def owner(db: Session) -> Actor:
    business = make_business(
        db, name="Cool Air HVAC", postal_address=ADDRESS, time_zone="America/Chicago"
    )
    return actor(make_user(db, business, email="owner@coolair.example.com"), business)


def engine(app: Flask) -> Engine:
    found: Engine = app.extensions["db_engine"]
    return found


def customer(
    db: Session,
    business: Business,
    email: str,
    *,
    job_date: dt.date = JOB_DAY,
    permitted: bool = True,
    trade: str = "hvac",
) -> Customer:
    added = services.create_customer(
        session=db,
        business_id=business.id or 0,
        data={"name": f"{email.split('@')[0].title()} Doe", "email": email, "zip_code": "78701"},
    )
    services.add_job(
        session=db,
        customer=added,
        data={"job_date": job_date, "description": "Job", "amount_cents": 40_000, "trade": trade},
    )
    if permitted:
        marketing.grant_permission(db, customer=added, source=PermissionSource.CUSTOMER_FORM)
    db.commit()
    return added


def rule(db: Session, owner: Actor, **fields: object) -> FollowUpRule:
    values: dict[str, object] = {
        "name": "A week after",
        "days_after": 7,
        "subject": "How is your new system, {first_name}?",
        "body": "Hello {first_name},\n\nWe worked for you on {last_job_date}.",
        **fields,
    }
    made = followups.create_rule(db, actor=owner, **values)  # type: ignore[arg-type]
    db.commit()
    return made


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=CHICAGO)


def sends(db: Session) -> list[tuple[str, str]]:
    db.expire_all()
    rows = db.exec(select(FollowUpSend).order_by(FollowUpSend.id)).all()  # type: ignore[arg-type]
    return [(row.status, row.reason) for row in rows]


def test_a_due_job_is_followed_up_once_at_the_rules_local_hour_across_a_dst_change(
    app: Flask, app_context: None, db: Session, owner: Actor, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp_server
    customer(db, owner.business, "pat@example.com")
    rule(db, owner, send_hour=10)

    # 09:59 CDT: not yet (the hour is the business's wall clock, after the change).
    followups.send_due_follow_ups(engine(app), now=local(SEND_DAY, 9, 59))
    assert inbox.messages == []
    # 10:00 CDT is 15:00 UTC (a fixed UTC-6 offset would wait until 16:00).
    at_ten = local(SEND_DAY, 10)
    assert at_ten.astimezone(dt.UTC).hour == 15
    assert followups.send_due_follow_ups(engine(app), now=at_ten)["sent"] == 1
    assert followups.send_due_follow_ups(engine(app), now=at_ten + dt.timedelta(hours=2)) == {
        "sent": 0,
        "skipped": 0,
        "failed": 0,
    }

    [message] = inbox.messages
    assert message["To"] == "pat@example.com"
    assert message["Subject"] == "How is your new system, Pat?"
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "We worked for you on March 1, 2026." in text
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Cool Air HVAC, 1200 Congress Ave" in text
    assert sends(db) == [("sent", "")]


def test_an_hour_the_clocks_skip_sends_at_the_first_hour_after(
    app: Flask, app_context: None, db: Session, owner: Actor, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp_server
    customer(db, owner.business, "pat@example.com")
    rule(db, owner, send_hour=2)  # 02:00 does not exist in Chicago on 2026-03-08

    followups.send_due_follow_ups(engine(app), now=local(SEND_DAY, 1, 59))
    assert inbox.messages == []
    three_cdt = dt.datetime(2026, 3, 8, 8, 0, tzinfo=dt.UTC)  # 01:59 CST + 1 minute
    followups.send_due_follow_ups(engine(app), now=three_cdt)
    followups.send_due_follow_ups(engine(app), now=three_cdt + dt.timedelta(hours=1))
    assert [m["To"] for m in inbox.messages] == ["pat@example.com"]


def test_an_hour_the_clocks_repeat_sends_once(
    app: Flask, app_context: None, db: Session, owner: Actor, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp_server
    # Chicago falls back on 2026-11-01: 01:00 to 02:00 comes twice (CDT, then CST).
    customer(db, owner.business, "pat@example.com", job_date=dt.date(2026, 10, 25))
    rule(db, owner, send_hour=1)

    first = dt.datetime(2026, 11, 1, 6, 15, tzinfo=dt.UTC)  # 01:15 CDT
    second = dt.datetime(2026, 11, 1, 7, 15, tzinfo=dt.UTC)  # 01:15 CST
    assert first.astimezone(CHICAGO).hour == second.astimezone(CHICAGO).hour == 1
    followups.send_due_follow_ups(engine(app), now=first)
    followups.send_due_follow_ups(engine(app), now=second)

    assert [m["To"] for m in inbox.messages] == ["pat@example.com"]


def test_the_worker_sends_what_is_due_once_and_not_the_old_history(
    app: Flask, app_context: None, db: Session, owner: Actor, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp_server
    today = dt.datetime.now(CHICAGO).date()
    customer(db, owner.business, "due@example.com", job_date=today - dt.timedelta(days=7))
    customer(db, owner.business, "old@example.com", job_date=today - dt.timedelta(days=30))
    customer(
        db,
        owner.business,
        "plumbing@example.com",
        trade="plumbing",
        job_date=today - dt.timedelta(days=7),
    )
    customer(db, owner.business, "soon@example.com", job_date=today - dt.timedelta(days=2))
    rule(db, owner, send_hour=0, trade="hvac")

    for _ in range(2):  # a second run (or a second worker) sends nothing more
        followups.keep_follow_ups_queued(db)
        db.commit()
        run_jobs(app)

    assert [m["To"] for m in inbox.messages] == ["due@example.com"]
    assert sends(db) == [("sent", "")]
    # The same (rule, job) handled again directly: already recorded, nothing sent.
    made = db.exec(select(FollowUpRule)).one()
    job = db.exec(
        select(CustomerJob).where(
            CustomerJob.job_date == today - dt.timedelta(days=7), CustomerJob.trade == "hvac"
        )
    ).one()
    assert (
        followups.send_follow_up(
            engine(app), rule_id=made.id or 0, job_id=job.id or 0, customer_id=job.customer_id
        )
        is None
    )
    assert len(inbox.messages) == 1


def test_customers_the_marketing_rule_refuses_are_skipped_with_the_reason(
    app: Flask, app_context: None, db: Session, owner: Actor, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp_server
    customer(db, owner.business, "pat@example.com")
    customer(db, owner.business, "never@example.com", permitted=False)
    gone = customer(db, owner.business, "gone@example.com")
    marketing.unsubscribe(db, marketing.unsubscribe_token(gone), how="test")
    customer(db, owner.business, "bounced@example.com")
    marketing.suppress(
        db,
        business_id=owner.business_id,
        email="bounced@example.com",
        reason=SuppressionReason.HARD_BOUNCE,
    )
    erased = customer(db, owner.business, "erased@example.com")
    services.erase_customer(session=db, business_id=owner.business_id, customer_id=erased.id or 0)
    db.commit()
    made = rule(db, owner)

    totals = followups.send_due_follow_ups(engine(app), now=local(SEND_DAY, 11))

    assert totals == {"sent": 1, "skipped": 4, "failed": 0}
    assert [m["To"] for m in inbox.messages] == ["pat@example.com"]
    reasons = sorted(reason for status, reason in sends(db) if status == "skipped")
    assert reasons == [  # an unsubscribe withdraws the permission too
        "The customer has not given permission to receive offers by email.",
        "The customer has not given permission to receive offers by email.",
        "The customer unsubscribed or their address bounced (suppressed).",
        "The customer's data is erased.",
    ]
    assert followups.rule_counts(db, made) == {"sent": 1, "skipped": 4, "failed": 0, "total": 5}


def test_a_paused_rule_sends_nothing_until_resumed(
    app: Flask, app_context: None, db: Session, owner: Actor, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp_server
    customer(db, owner.business, "pat@example.com")
    made = rule(db, owner)
    followups.set_active(db, actor=owner, rule_id=made.id or 0, active=False)
    db.commit()

    followups.send_due_follow_ups(engine(app), now=local(SEND_DAY, 11))
    assert inbox.messages == []

    followups.set_active(db, actor=owner, rule_id=made.id or 0, active=True)
    db.commit()
    followups.send_due_follow_ups(engine(app), now=local(SEND_DAY, 12))
    assert [m["To"] for m in inbox.messages] == ["pat@example.com"]


def test_an_unknown_merge_field_or_a_bad_day_count_is_refused_and_staff_cannot_manage(
    db: Session, owner: Actor
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        rule(db, owner, body="Hello {nickname}")
    assert "body" in refused.value.errors
    with pytest.raises(ValidationFailed) as refused:
        rule(db, owner, days_after=400)
    assert "days_after" in refused.value.errors
    db.rollback()
    staff = actor(make_user(db, owner.business, role="staff"), owner.business)
    with pytest.raises(PermissionDenied):
        rule(db, staff)
    db.rollback()
    assert db.exec(select(FollowUpRule)).all() == []


def test_the_preview_merges_the_most_recent_customer_or_the_one_chosen(
    app_context: None, db: Session, owner: Actor
) -> None:
    customer(db, owner.business, "old@example.com", job_date=dt.date(2025, 5, 1))
    recent = customer(db, owner.business, "recent@example.com", job_date=dt.date(2026, 2, 2))
    older = db.exec(select(Customer).where(Customer.email == "old@example.com")).one()

    shown = followups.preview(
        db, business=owner.business, subject="Hi {first_name}", body="Job on {last_job_date}"
    )
    assert shown.customer is not None and shown.customer.id == recent.id
    assert (shown.subject, shown.body) == ("Hi Recent", "Job on February 2, 2026")
    chosen = followups.preview(
        db, business=owner.business, subject="Hi {first_name}", body="", customer_id=older.id
    )
    assert chosen.subject == "Hi Old"


def _user(db: Session) -> User:
    return db.exec(select(User).where(User.email == "owner@coolair.example.com")).one()


def test_the_pages_compose_with_a_preview_show_pause_and_resume_and_staff_only_read(
    app: Flask, db: Session, owner: Actor
) -> None:
    with app.app_context():
        customer(db, owner.business, "pat@example.com")
        sam = customer(db, owner.business, "sam@example.com", job_date=dt.date(2025, 1, 5))
        other = make_business(db, name="Elsewhere", postal_address=ADDRESS)
        theirs = customer(db, other, "theirs@example.com", job_date=dt.date(2026, 3, 5))
    browser = sign_in(app, _user(db))
    form = {
        "name": "A week after",
        "days_after": "7",
        "send_hour": "9",
        "trade": "hvac",
        "subject": "How is it, {first_name}?",
        "body": "Hi {first_name}\n\n<script>alert(1)</script>",
    }

    listing = browser.get("/campaigns").get_data(as_text=True)
    previewed = browser.post_form("/follow-ups/new", {**form, "action": "preview"})
    bad = browser.post_form("/follow-ups/new", {**form, "body": "{nope}", "action": "save"})
    too_late = browser.post_form("/follow-ups/new", {**form, "days_after": "366"})
    saved = browser.post_form("/follow-ups/new", {**form, "action": "save"})
    page_path = saved.headers["Location"]
    page = browser.get(page_path).get_data(as_text=True)
    for_sam = browser.get(f"{page_path}?customer_id={sam.id}").get_data(as_text=True)
    foreign = browser.get(f"{page_path}?customer_id={theirs.id}")
    running_status = browser.get(f"{page_path}/status").json
    paused = browser.post_form(f"{page_path}/pause", {}, page=page_path)
    paused_page = browser.get(page_path).get_data(as_text=True)
    paused_status = browser.get(f"{page_path}/status").json
    browser.post_form(f"{page_path}/resume", {}, page=page_path)
    staff = make_user(db, owner.business, email="staff@coolair.example.com", role="staff")
    reader = sign_in(app, staff)
    staff_sees = reader.get(page_path)
    staff_form = reader.get("/follow-ups/new").get_data(as_text=True)

    assert 'href="/follow-ups"' in listing
    assert previewed.status_code == 200
    assert "How is it, Pat?" in previewed.get_data(as_text=True)
    assert bad.status_code == 422 and "{nope}" in bad.get_data(as_text=True)
    assert too_late.status_code == 422
    assert saved.status_code == 302
    assert "How is it, Pat?" in page  # the most recent job's customer
    assert "How is it, Sam?" in for_sam and foreign.status_code == 404
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    assert paused.status_code == 302 and 'id="follow-up-status">paused<' in paused_page
    # Its page polls while it runs (the worker's sends appear), not once paused.
    assert running_status == {"state": "True:0:0:0", "done": False}
    assert paused_status == {"state": "False:0:0:0", "done": True}
    assert 'data-live="' in page and 'data-live="' not in paused_page
    db.expire_all()
    assert db.exec(select(FollowUpRule)).one().active is True
    assert staff_sees.status_code == 200 and 'id="pause"' not in staff_sees.get_data(as_text=True)
    assert "Only owners and managers manage follow-ups." in staff_form


def test_the_api_creates_lists_shows_updates_pauses_and_resumes(
    app: Flask, db: Session, owner: Actor
) -> None:
    api = api_client(app, db, _user(db))

    refused = api.post(
        "/follow-ups", {"name": "X", "days_after": 7, "subject": "{nope}", "body": "Hi"}
    )
    out_of_range = api.post(
        "/follow-ups", {"name": "X", "days_after": 0, "subject": "Hi", "body": "Hi"}
    )
    created = api.post(
        "/follow-ups",
        {"name": "A week after", "days_after": 7, "subject": "Hi {first_name}", "body": "Hello"},
    )
    rule_id = created.json["id"]
    updated = api.put(
        f"/follow-ups/{rule_id}",
        {
            "name": "Two weeks after",
            "days_after": 14,
            "subject": "Hi",
            "body": "Hello",
            "send_hour": 8,
            "trade": "hvac",
        },
    )
    paused = api.post(f"/follow-ups/{rule_id}/pause")
    again = api.post(f"/follow-ups/{rule_id}/pause")
    resumed = api.post(f"/follow-ups/{rule_id}/resume")
    listed = api.get("/follow-ups")
    shown = api.get(f"/follow-ups/{rule_id}")

    assert refused.status_code == 422 and "subject" in refused.json["errors"]
    assert out_of_range.status_code == 422 and "days_after" in out_of_range.json["errors"]
    assert created.status_code == 201 and created.json["send_hour"] == 10
    assert created.json["active"] is True
    assert updated.json["days_after"] == 14 and updated.json["trade"] == "hvac"
    assert paused.json["active"] is False and again.status_code == 409
    assert resumed.json["active"] is True
    assert [r["id"] for r in listed.json["items"]] == [rule_id]
    assert shown.json["counts"] == {"total": 0, "sent": 0, "skipped": 0, "failed": 0}
    assert shown.json["results"]["said_yes"] == 0


def test_patch_changes_only_the_fields_sent_and_names_a_bad_one_changing_nothing(
    app: Flask, db: Session, owner: Actor
) -> None:
    api = api_client(app, db, _user(db))
    created = api.post(
        "/follow-ups",
        {
            "name": "A week after",
            "days_after": 7,
            "subject": "Hi {first_name}",
            "body": "Hello",
            "send_hour": 9,
            "trade": "hvac",
        },
    ).json
    path = f"/follow-ups/{created['id']}"
    elsewhere = make_business(db, name="Elsewhere")
    theirs = api_client(app, db, make_user(db, elsewhere, email="owner@elsewhere.example"))

    patched = api.patch(path, {"days_after": 14})
    unknown = api.patch(path, {"days_after": 21, "colour": "red"})
    fractional = api.patch(path, {"send_hour": 2.5})
    bad_merge = api.patch(path, {"subject": "Hi {nope}", "days_after": 30})
    nothing = api.patch(path)
    foreign = theirs.patch(path, {"days_after": 3})
    replaced = api.put(path, {"name": "Put", "days_after": 5, "subject": "S", "body": "B"})

    assert patched.status_code == 200
    assert {k: patched.json[k] for k in ("days_after", "name", "send_hour", "trade")} == {
        "days_after": 14,
        "name": "A week after",
        "send_hour": 9,
        "trade": "hvac",
    }
    assert unknown.status_code == 422 and list(unknown.json["errors"]) == ["colour"]
    assert fractional.status_code == 422 and list(fractional.json["errors"]) == ["send_hour"]
    assert bad_merge.status_code == 422 and list(bad_merge.json["errors"]) == ["subject"]
    assert nothing.status_code == 200 and nothing.json["days_after"] == 14  # none changed
    assert foreign.status_code == 404
    assert replaced.status_code == 200  # PUT still replaces the whole rule
    assert (replaced.json["name"], replaced.json["send_hour"], replaced.json["trade"]) == (
        "Put",
        10,
        "",
    )


def test_the_offer_links_count_and_who_already_took_every_offer_is_skipped(
    app: Flask, app_context: None, db: Session, owner: Actor, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp_server
    plan = offers_services.create_offer(
        session=db,
        actor=owner,
        data=OfferInput(
            kind=OfferKind.OWN,
            title="Service plan",
            benefit="Two tune-ups a year",
            valid_from=dt.date(2026, 1, 1),
        ),
    )
    db.commit()
    customer(db, owner.business, "pat@example.com")
    sam = customer(db, owner.business, "sam@example.com")
    (earlier,) = offer_links(db, offers=[plan], customer=sam, source=Source(SourceKind.CAMPAIGN, 1))
    say_yes(db, earlier.url.rsplit("/", 1)[1])
    db.commit()
    made = rule(db, owner, offer_ids=[plan.id])

    totals = followups.send_due_follow_ups(engine(app), now=local(SEND_DAY, 11))

    assert totals == {"sent": 1, "skipped": 1, "failed": 0}
    [message] = inbox.messages
    assert message["To"] == "pat@example.com"
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "* Service plan: Two tune-ups a year" in text
    assert ("skipped", followups.ALREADY_TOOK) in sends(db)
    link = next(line.strip() for line in text.splitlines() if "/o/" in line)
    say_yes(db, link.rsplit("/", 1)[1])
    db.commit()
    assert followups.rule_results(db, made)["said_yes"] == 1


def test_a_mail_server_that_says_later_gets_the_email_at_the_next_run_and_the_others_go_now(
    app: Flask, app_context: None, db: Session, owner: Actor, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp_server
    customer(db, owner.business, "busy@example.com")
    customer(db, owner.business, "pat@example.com")
    inbox.refuse("busy@example.com", "451 4.3.0 Try again later")
    rule(db, owner)

    first = followups.send_due_follow_ups(engine(app), now=local(SEND_DAY, 11))
    again = followups.send_due_follow_ups(engine(app), now=local(SEND_DAY, 11, 15))

    assert first == {"sent": 1, "skipped": 0, "failed": 0}  # busy@ waits: nothing recorded
    assert again == {"sent": 1, "skipped": 0, "failed": 0}
    assert sorted(m["To"] for m in inbox.messages) == ["busy@example.com", "pat@example.com"]
    assert [status for status, _ in sends(db)] == ["sent", "sent"]


def test_an_address_the_mail_server_refuses_for_good_fails_and_is_suppressed(
    app: Flask, app_context: None, db: Session, owner: Actor, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp_server
    customer(db, owner.business, "gone@example.com")
    customer(db, owner.business, "pat@example.com")
    inbox.refuse("gone@example.com", "550 5.1.1 No such user")
    rule(db, owner)

    totals = followups.send_due_follow_ups(engine(app), now=local(SEND_DAY, 11))

    assert totals == {"sent": 1, "skipped": 0, "failed": 1}
    assert [m["To"] for m in inbox.messages] == ["pat@example.com"]
    assert ("failed", "hard bounce") in sends(db)


def test_a_rule_whose_offer_has_ended_can_still_be_edited_but_not_given_an_ended_offer(
    db: Session, owner: Actor
) -> None:
    """Each email leaves out an offer that has ended, so the rule may keep it
    while its text changes; adding an ended offer is refused."""

    def new_offer(title: str) -> int:
        offer = offers_services.create_offer(
            session=db,
            actor=owner,
            data=OfferInput(
                kind=OfferKind.OWN, title=title, benefit="10% off", valid_from=dt.date(2026, 1, 1)
            ),
        )
        db.flush()
        assert offer.id is not None
        return offer.id

    plan, spring = new_offer("Service plan"), new_offer("Spring special")
    made = rule(db, owner, offer_ids=[plan])
    offers_services.end_offer(session=db, actor=owner, offer_id=plan)
    offers_services.end_offer(session=db, actor=owner, offer_id=spring)

    edited = followups.change_rule(
        db, actor=owner, rule_id=made.id or 0, changes={"subject": "Time for a check-up"}
    )
    assert (edited.subject, edited.offer_ids) == ("Time for a check-up", [plan])
    with pytest.raises(ValidationFailed) as refused:
        followups.change_rule(
            db, actor=owner, rule_id=made.id or 0, changes={"offer_ids": [plan, spring]}
        )
    assert "offer_ids" in refused.value.errors
