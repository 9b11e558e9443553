"""Marketing email reaches only customers who said yes and never unsubscribed:
checked when queued and again when the worker sends it (over real SMTP), with
a one-click unsubscribe (RFC 8058) and the business's name and postal address
in every message; unsubscribes and hard bounces suppress the address, and only
the customer's own opt-in lifts that."""

from __future__ import annotations

import re
from email.message import EmailMessage

import pytest
from flask import Flask
from sqlmodel import Session, select

from referral.businesses.models import Business
from referral.customers import imports, marketing, services
from referral.customers.marketing import MarketingRefused
from referral.customers.models import (
    Customer,
    MarketingPermission,
    MarketingSuppression,
    PermissionSource,
)
from referral.jobs.models import Job
from referral.jobs.worker import run_due_jobs
from tests.support.factories import make_business, make_user, sign_in
from tests.support.jobs import run_jobs
from tests.support.smtp import Inbox

ADDRESS = "1200 Congress Ave\nAustin, TX 78701"


@pytest.fixture
def app_overrides(smtp_server) -> dict[str, object]:  # type: ignore[no-untyped-def]
    _, port = smtp_server
    return {"MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port}


@pytest.fixture
def shop(db: Session) -> Business:
    return make_business(db, name="Cool Air HVAC", postal_address=ADDRESS)


def customer(db: Session, business: Business, email: str, *, permitted: bool = True) -> Customer:
    added = services.create_customer(
        session=db, business_id=business.id or 0, data={"name": email.split("@")[0], "email": email}
    )
    if permitted:
        marketing.grant_permission(db, customer=added, source=PermissionSource.CUSTOMER_FORM)
    db.commit()
    return added


def send(db: Session, business: Business, to: Customer, subject: str = "Spring tune-up") -> Job:
    job = marketing.queue_marketing_email(
        db,
        business=business,
        customer=to,
        subject=subject,
        text_body="Hello,\n\n20% off a spring tune-up this month.",
        source="test",
    )
    db.commit()
    return job


def body(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]


def unsubscribe_path(message: EmailMessage) -> str:
    link = re.search(r"<(https?://[^>]+/marketing/unsubscribe/[^>]+)>", message["List-Unsubscribe"])
    assert link, message["List-Unsubscribe"]
    return re.sub(r"^https?://[^/]+", "", link.group(1))


def suppressed(db: Session, business: Business, email: str) -> str | None:
    db.expire_all()
    row = db.exec(
        select(MarketingSuppression).where(
            MarketingSuppression.business_id == business.id, MarketingSuppression.email == email
        )
    ).first()
    return row.reason if row else None


def test_a_send_to_a_mixed_list_reaches_only_permitted_addresses(
    app: Flask, app_context: None, db: Session, shop: Business, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp_server
    yes = customer(db, shop, "yes@example.com")
    changed_mind = customer(db, shop, "changed@example.com")
    never_asked = customer(db, shop, "unknown@example.com", permitted=False)
    unsubscribed = customer(db, shop, "gone@example.com")
    erased = customer(db, shop, "erased@example.com")
    marketing.unsubscribe(db, marketing.unsubscribe_token(unsubscribed), how="test")
    services.erase_customer(session=db, business_id=shop.id or 0, customer_id=erased.id or 0)
    db.commit()

    queued = [send(db, shop, c) for c in (yes, changed_mind)]
    for refused in (never_asked, unsubscribed, erased):
        with pytest.raises(MarketingRefused):
            send(db, shop, refused)
    db.rollback()
    # Permission withdrawn after queueing: the worker checks again and sends nothing.
    marketing.withdraw_permission(db, customer=changed_mind, source=PermissionSource.STAFF)
    db.commit()

    run_jobs(app)

    assert [m["To"] for m in inbox.messages] == ["yes@example.com"]
    assert len(queued) == 2


def test_every_marketing_email_carries_one_click_unsubscribe_and_the_senders_address(
    app: Flask, app_context: None, db: Session, shop: Business, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp_server
    send(db, shop, customer(db, shop, "yes@example.com"))

    run_jobs(app)

    [message] = inbox.to("yes@example.com")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    path = unsubscribe_path(message)
    text = body(message)
    assert path in text  # the same link in the body
    assert "Cool Air HVAC, 1200 Congress Ave, Austin, TX 78701" in text
    assert "20% off a spring tune-up" in text


def test_one_click_unsubscribe_is_honoured_at_once_without_login_or_csrf(
    app: Flask, app_context: None, db: Session, shop: Business, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp_server
    pat = customer(db, shop, "pat@example.com")
    send(db, shop, pat)
    run_jobs(app)
    [message] = inbox.to("pat@example.com")
    send(db, shop, pat, subject="Queued before the click")

    # What a mail client does (RFC 8058): a bare POST, no cookie, no token.
    answer = app.test_client().post(
        unsubscribe_path(message), data={"List-Unsubscribe": "One-Click"}
    )
    run_jobs(app)

    assert answer.status_code == 200
    assert "You are unsubscribed" in answer.get_data(as_text=True)
    db.refresh(pat)
    assert pat.marketing_permission == MarketingPermission.REFUSED
    assert suppressed(db, shop, "pat@example.com") == "unsubscribed"
    assert len(inbox.to("pat@example.com")) == 1  # the queued one was not sent


def test_the_unsubscribe_page_shows_a_button_that_unsubscribes(
    app: Flask, app_context: None, db: Session, shop: Business
) -> None:
    pat = customer(db, shop, "pat@example.com")
    path = f"/marketing/unsubscribe/{marketing.unsubscribe_token(pat)}"
    browser = app.test_client()

    page = browser.get(path).get_data(as_text=True)
    assert 'id="unsubscribe"' in page and "Cool Air HVAC" in page
    assert browser.post(path).status_code == 200

    db.refresh(pat)
    assert pat.marketing_permission == MarketingPermission.REFUSED
    assert "You are unsubscribed" in browser.get(path).get_data(as_text=True)


def test_a_hard_bounce_suppresses_the_address(
    app: Flask, app_context: None, db: Session, shop: Business, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp_server
    inbox.refuse("nobody@example.com", "550 5.1.1 No such user")
    ghost = customer(db, shop, "nobody@example.com")
    job = send(db, shop, ghost)

    run_due_jobs(app)

    db.refresh(job)
    assert job.status == "dead"
    assert suppressed(db, shop, "nobody@example.com") == "hard_bounce"
    with pytest.raises(MarketingRefused):
        send(db, shop, ghost)


def test_an_import_saying_yes_does_not_lift_a_suppression(
    app: Flask, app_context: None, db: Session, shop: Business
) -> None:
    pat = customer(db, shop, "pat@example.com")
    marketing.unsubscribe(db, marketing.unsubscribe_token(pat), how="test")
    db.commit()
    record = imports.upload_import(
        session=db,
        business_id=shop.id or 0,
        user_id=None,
        filename="c.csv",
        content=b"name,email,marketing permission\npat,pat@example.com,yes\n",
    )
    imports.plan_import(session=db, record=record)
    imports.start_import(session=db, record=record, in_background=False)
    db.commit()

    db.refresh(pat)
    assert pat.marketing_permission == MarketingPermission.GRANTED  # what the file says
    assert suppressed(db, shop, "pat@example.com") == "unsubscribed"  # what the customer said
    assert marketing.refusal(db, business=shop, customer=pat) is not None
    with pytest.raises(MarketingRefused):
        send(db, shop, pat)


def test_only_the_customers_own_opt_in_lifts_a_suppression(
    app: Flask, app_context: None, db: Session, shop: Business, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp_server
    pat = customer(db, shop, "pat@example.com")
    marketing.unsubscribe(db, marketing.unsubscribe_token(pat), how="test")
    marketing.grant_permission(db, customer=pat, source=PermissionSource.JOB_FORM)
    db.commit()
    assert suppressed(db, shop, "pat@example.com") == "unsubscribed"

    marketing.request_opt_in(db, business=shop, customer=pat)
    db.commit()
    run_jobs(app)
    [question] = inbox.to("pat@example.com")
    link = re.search(r"https?://\S+/marketing/confirm/\S+", body(question))
    assert link, body(question)
    path = re.sub(r"^https?://[^/]+", "", link.group(0))
    browser = app.test_client()
    assert 'id="confirm"' in browser.get(path).get_data(as_text=True)
    assert browser.post_form(path).status_code == 200

    assert suppressed(db, shop, "pat@example.com") is None
    send(db, shop, pat)
    run_jobs(app)
    assert len(inbox.to("pat@example.com")) == 2
    with pytest.raises(MarketingRefused, match="last week"):
        marketing.withdraw_permission(db, customer=pat, source=PermissionSource.STAFF)
        marketing.request_opt_in(db, business=shop, customer=pat)


@pytest.mark.parametrize("kind", ["unsubscribe", "confirm"])
def test_a_tampered_or_foreign_token_is_a_404_and_changes_nothing(
    app: Flask, app_context: None, db: Session, shop: Business, kind: str
) -> None:
    pat = customer(db, shop, "pat@example.com")
    other = make_business(db, name="Elsewhere", postal_address=ADDRESS)
    token = (
        marketing.unsubscribe_token(pat) if kind == "unsubscribe" else marketing.opt_in_token(pat)
    )
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    # A token built for another business's id, signed with another key.
    with app.test_request_context():
        app.config["SECRET_KEY"], real = "not-our-key", app.config["SECRET_KEY"]
        pat.business_id, home = other.id or 0, pat.business_id
        foreign = marketing.unsubscribe_token(pat)
        pat.business_id = home
        app.config["SECRET_KEY"] = real
    db.rollback()
    browser = app.test_client()

    for bad in (forged, foreign, "nonsense"):
        assert browser.get(f"/marketing/{kind}/{bad}").status_code == 404
        assert browser.post(f"/marketing/{kind}/{bad}").status_code in (400, 404)

    db.refresh(pat)
    assert pat.marketing_permission == MarketingPermission.GRANTED
    assert suppressed(db, shop, "pat@example.com") is None


def test_no_marketing_email_without_a_postal_address(
    app: Flask, app_context: None, db: Session
) -> None:
    bare = make_business(db, name="No Address Co")
    pat = customer(db, bare, "pat@example.com")

    with pytest.raises(MarketingRefused, match="postal address"):
        send(db, bare, pat)


def test_erasing_a_customer_removes_them_from_pending_marketing_sends(
    app: Flask, app_context: None, db: Session, shop: Business, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp_server
    pat = customer(db, shop, "pat@example.com")
    job = send(db, shop, pat)

    services.erase_customer(session=db, business_id=shop.id or 0, customer_id=pat.id or 0)
    db.commit()
    run_jobs(app)

    db.refresh(job)
    assert inbox.messages == []
    assert job.payload["text"] == "" and job.last_error == "cancelled: recipient erased"


def test_staff_record_permission_with_the_checkbox_and_the_profile_holds_the_address(
    app: Flask, db: Session
) -> None:
    business = make_business(db, name="Cool Air HVAC")
    owner = sign_in(app, make_user(db, business, email="owner@coolair.example.com"))

    added = owner.post_form(
        "/customers/new",
        {"name": "Pat", "email": "Pat@Example.com", "marketing_permission": "yes"},
        page="/customers/new",
    )
    saved = owner.post_form(
        "/business/profile",
        {
            "name": "Cool Air HVAC",
            "trade": "hvac",
            "zip_code": "78701",
            "radius_miles": "25",
            "postal_address": ADDRESS,
        },
        page="/business/profile",
    )

    assert added.status_code == 302 and saved.status_code == 302
    pat = db.exec(select(Customer).where(Customer.email == "pat@example.com")).one()
    assert pat.marketing_permission == MarketingPermission.GRANTED
    assert "by owner@coolair.example.com" in pat.marketing_permission_source
    db.refresh(business)
    assert business.postal_address == ADDRESS
    page = owner.get(f"/customers/{pat.id}").get_data(as_text=True)
    assert "Marketing permission history" in page
