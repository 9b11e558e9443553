"""Referral pages: send, inbox, outbox, and what the partner sees when."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from flask import Flask
from sqlmodel import Session, select

from referral.audit.models import AuditEvent
from referral.referrals.models import Referral
from tests.support.factories import make_business, make_user, sign_in
from tests.support.mail import last_email

PII = ("Ana Diaz", "ana@example.com", "+15125550101", "9 Elm St")


def send_form(client, partner_id: int, customer_id: int, **fields: str):  # type: ignore[no-untyped-def]
    data = {
        "partner_id": str(partner_id),
        "customer_id": str(customer_id),
        "need": "Water heater leaking in the garage",
        "urgency": "this_week",
        "consent_method": "email_link",
        **fields,
    }
    return client.post_form("/referrals/new", data)


def upload_signed_form(client, partner_id: int, customer_id: int, content: bytes, name: str):  # type: ignore[no-untyped-def]
    """The referral form with consent attested in writing and the signed form attached."""
    return client.post(
        "/referrals/new",
        data={
            "csrf_token": client.csrf_token("/referrals/new"),
            "partner_id": str(partner_id),
            "customer_id": str(customer_id),
            "need": "Water heater leaking",
            "urgency": "this_week",
            "consent_method": "attested_writing",
            "attested_on": dt.date.today().isoformat(),
            "evidence": (io.BytesIO(content), name),
        },
        content_type="multipart/form-data",
    )


def test_a_referral_from_the_form_to_a_won_job_without_leaking_before_consent(
    app: Flask, db: Session, hvac, plumber, customer_id: int
) -> None:  # type: ignore[no-untyped-def]
    from referral.customers.models import Customer

    customer = db.get(Customer, customer_id)
    customer.address = "9 Elm St"
    db.commit()
    alex = sign_in(app, _user(db, "alex@coolair.example"))
    blair = sign_in(app, _user(db, "blair@drip.example"))

    sent = send_form(alex, plumber.business_id, customer_id)
    assert sent.status_code == 302
    referral = db.exec(select(Referral)).one()

    # Before consent: nothing at all in the partner's inbox or pages.
    inbox = blair.get("/referrals/inbox").get_data(as_text=True)
    assert "Water heater" not in inbox
    assert blair.get(f"/referrals/{referral.id}").status_code == 200

    path = last_email(db, to="ana@example.com").path("/consent/")
    app.test_client().post_form(path, {"answer": "yes"})

    # After consent, before acceptance: the need and ZIP code, no contact details.
    inbox = blair.get("/referrals/inbox").get_data(as_text=True)
    detail = blair.get(f"/referrals/{referral.id}").get_data(as_text=True)
    notification_emails = [e.text for e in _emails_to(db, "blair@drip.example")]
    for text in (inbox, detail, *notification_emails):
        assert not any(value in text for value in PII), text
    assert "Water heater" in inbox and "ZIP" in inbox

    blair.post_form(f"/referrals/{referral.id}/accept", page=f"/referrals/{referral.id}")
    detail = blair.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert "ana@example.com" in detail and "+15125550101" in detail
    views = db.exec(select(AuditEvent.action, AuditEvent.owner_business_id)).all()
    assert views == [("contact_viewed", hvac.business_id)]

    blair.post_form(
        f"/referrals/{referral.id}/won",
        {"job_value": "4,800", "job_date": "2026-11-20"},
        page=f"/referrals/{referral.id}",
    )
    db.refresh(referral)
    assert (referral.status, referral.job_value_cents, referral.job_date) == (
        "won",
        480000,
        dt.date(2026, 11, 20),
    )
    outbox = alex.get("/referrals/outbox").get_data(as_text=True)
    assert "Ana Diaz" in outbox and "given" in outbox and "won" in outbox


def test_a_duplicate_within_30_days_links_to_the_first(
    app: Flask, db: Session, hvac, plumber, customer_id: int
) -> None:  # type: ignore[no-untyped-def]
    alex = sign_in(app, _user(db, "alex@coolair.example"))
    send_form(alex, plumber.business_id, customer_id)
    first = db.exec(select(Referral)).one()

    again = send_form(alex, plumber.business_id, customer_id)

    assert again.status_code == 409
    assert f"/referrals/{first.id}" in again.get_data(as_text=True)
    assert len(db.exec(select(Referral)).all()) == 1


def test_bad_input_is_shown_and_nothing_is_sent(
    app: Flask, db: Session, hvac, plumber, customer_id: int
) -> None:  # type: ignore[no-untyped-def]
    alex = sign_in(app, _user(db, "alex@coolair.example"))

    response = send_form(
        alex,
        plumber.business_id,
        customer_id,
        need="",
        urgency="yesterday",
        consent_method="attested_phone",
    )

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Describe the need" in page and "Choose how urgent" in page
    assert "When did the customer agree?" in page
    assert db.exec(select(Referral)).all() == []


def test_a_third_business_gets_404_everywhere(
    app: Flask, db: Session, hvac, plumber, customer_id: int
) -> None:  # type: ignore[no-untyped-def]
    alex = sign_in(app, _user(db, "alex@coolair.example"))
    send_form(
        alex,
        plumber.business_id,
        customer_id,
        consent_method="attested_phone",
        attested_on=dt.date.today().isoformat(),
    )
    referral = db.exec(select(Referral)).one()
    outsider = make_business(db, trade="roofing", zip_code="78702")
    client = sign_in(app, make_user(db, outsider))

    assert client.get(f"/referrals/{referral.id}").status_code == 404
    for action in ("accept", "decline", "lost", "withdraw"):
        response = client.post_form(f"/referrals/{referral.id}/{action}", page="/referrals/inbox")
        assert response.status_code == 404, action
    assert "Water heater" not in client.get("/referrals/inbox").get_data(as_text=True)
    db.refresh(referral)
    assert referral.status == "sent"


def _user(db: Session, email: str):  # type: ignore[no-untyped-def]
    from referral.auth.models import User

    return db.exec(select(User).where(User.email == email)).one()


def _emails_to(db: Session, address: str):  # type: ignore[no-untyped-def]
    from tests.support.mail import queued_emails

    return queued_emails(db, to=address)


def test_a_signed_form_is_checked_by_content_and_kept_with_the_consent(
    app: Flask, db: Session, hvac, plumber, customer_id: int
) -> None:  # type: ignore[no-untyped-def]
    import hashlib
    from pathlib import Path

    from referral.consent.models import ConsentRecord

    alex = sign_in(app, _user(db, "alex@coolair.example"))

    def upload(content: bytes, name: str):  # type: ignore[no-untyped-def]
        return upload_signed_form(alex, plumber.business_id, customer_id, content, name)

    fake = upload(b"just text, not a PDF", "signed.pdf")
    assert fake.status_code == 422
    assert "Upload a PDF or an image" in fake.get_data(as_text=True)
    assert db.exec(select(Referral)).all() == []

    pdf = b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n"
    assert upload(pdf, "signed.pdf").status_code == 302
    record = db.exec(select(ConsentRecord)).one()
    assert record.evidence_sha256 == hashlib.sha256(pdf).hexdigest()
    assert record.evidence_content_type == "application/pdf"
    stored = Path(app.config["UPLOAD_FOLDER"]) / "consent-evidence" / record.evidence_sha256
    assert stored.read_bytes() == pdf


def test_a_form_left_by_a_referral_refused_after_its_upload_is_deleted_a_day_later(
    app: Flask, db: Session, hvac, plumber, customer_id: int
) -> None:  # type: ignore[no-untyped-def]
    import hashlib

    from referral.consent.evidence import evidence_path
    from referral.db import utcnow
    from referral.housekeeping import prune

    alex = sign_in(app, _user(db, "alex@coolair.example"))

    def upload(content: bytes):  # type: ignore[no-untyped-def]
        return upload_signed_form(alex, plumber.business_id, customer_id, content, "signed.pdf")

    kept, left = b"%PDF-1.7\n% first\n%%EOF\n", b"%PDF-1.7\n% second\n%%EOF\n"
    assert upload(kept).status_code == 302
    assert upload(left).status_code != 302  # the same customer to the same partner again
    assert len(db.exec(select(Referral)).all()) == 1
    with app.app_context():
        kept_path = evidence_path(hashlib.sha256(kept).hexdigest())
        left_path = evidence_path(hashlib.sha256(left).hexdigest())
        assert kept_path.exists() and left_path.exists()

        assert prune(db)["evidence_files"] == 0  # a request may still be about to name it
        assert prune(db, now=utcnow() + dt.timedelta(days=2))["evidence_files"] == 1

        assert kept_path.read_bytes() == kept
        assert not left_path.exists()


def test_a_signed_form_over_5_mb_is_refused(app: Flask) -> None:
    # Checked on the service: werkzeug's test client leaks the temporary file
    # it spools a multipart body over 500 KB to.
    import io

    from referral.consent.evidence import store_evidence
    from referral.errors import ValidationFailed

    with app.app_context(), pytest.raises(ValidationFailed) as refused:
        store_evidence(io.BytesIO(b"%PDF-1.7\n" + b"x" * (5 * 1024 * 1024)))
    assert refused.value.errors == {"evidence": ["The file is larger than 5 MB."]}


def test_the_owner_sees_who_opened_its_customers_details(
    app: Flask, db: Session, hvac, plumber, customer_id: int
) -> None:  # type: ignore[no-untyped-def]
    alex = sign_in(app, _user(db, "alex@coolair.example"))
    blair = sign_in(app, _user(db, "blair@drip.example"))
    send_form(
        alex,
        plumber.business_id,
        customer_id,
        consent_method="attested_phone",
        attested_on=dt.date.today().isoformat(),
    )
    referral = db.exec(select(Referral)).one()
    blair.post_form(f"/referrals/{referral.id}/accept", page=f"/referrals/{referral.id}")
    blair.get(f"/referrals/{referral.id}")

    trail = alex.get("/audit").get_data(as_text=True)

    assert "Drip Plumbing" in trail and "contact viewed" in trail
    assert "ana@example.com" not in trail
    assert "Cool Air HVAC" not in blair.get("/audit").get_data(as_text=True)


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
    ],
)
def test_an_action_form_goes_back_only_to_a_page_of_this_site(
    app: Flask, db: Session, hvac, plumber, customer_id: int, target: str
) -> None:  # type: ignore[no-untyped-def]
    alex = sign_in(app, _user(db, "alex@coolair.example"))
    send_form(
        alex,
        plumber.business_id,
        customer_id,
        consent_method="attested_phone",
        attested_on="2026-11-20",
    )
    referral = db.exec(select(Referral)).one()
    blair = sign_in(app, _user(db, "blair@drip.example"))

    response = blair.post_form(
        f"/referrals/{referral.id}/decline", {"next": target}, page="/referrals/inbox"
    )

    assert response.status_code == 302
    assert response.headers["Location"] == f"/referrals/{referral.id}"
    inbox = blair.post_form(
        f"/referrals/{referral.id}/accept", {"next": "/referrals/inbox"}, page="/referrals/inbox"
    )
    assert inbox.headers["Location"] == "/referrals/inbox"
