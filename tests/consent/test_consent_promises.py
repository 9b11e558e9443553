"""What consent promises the customer and the partner, page by page: the
receiver's view by state, the agreed date, receipts anyone can check, bad
links that change nothing, and erasure that deletes the signed form."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import threading

import pytest
from flask import Flask
from itsdangerous import TimestampSigner
from sqlmodel import Session, select

from referral.audit.models import AuditEvent
from referral.commissions.models import Commission
from referral.consent import services as consent
from referral.consent.evidence import evidence_path
from referral.consent.models import ConsentRecord, ConsentRequest, ConsentWithdrawal
from referral.customers.services import create_customer, erase_customer
from referral.referrals import services as referrals
from referral.referrals.models import Referral
from tests.consent.support import CUSTOMER_EMAIL, NEED, Parties, parties, refer
from tests.support.factories import sign_in
from tests.support.mail import last_email, queued_emails

AGREED = dt.date.today() - dt.timedelta(days=3)
PDF = b"%PDF-1.7\n% signed by the customer\n%%EOF\n"


def _path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def _confirmation(db: Session):  # type: ignore[no-untyped-def]
    [email] = [e for e in queued_emails(db, to=CUSTOMER_EMAIL) if e.subject.startswith("You")]
    return email


def _accepted(app: Flask, db: Session, p: Parties) -> Referral:
    referral = refer(app, db, p, "attested_phone", AGREED)
    with app.app_context():
        referrals.accept_referral(session=db, actor=p.receiver, referral_id=referral.id)
        db.commit()
    return referral


# --- what the partner's page says -------------------------------------------------------


def test_after_a_withdrawal_the_partners_page_says_so_and_shows_no_details(
    app: Flask, db: Session
) -> None:
    p = parties(app, db)
    referral = _accepted(app, db, p)
    partner = sign_in(app, _owner(db, p))
    before = partner.get(f"/referrals/{referral.id}").get_data(as_text=True)
    withdraw = _confirmation(db).path("/consent/withdraw/")

    app.test_client().post_form(withdraw, {})
    after = partner.get(f"/referrals/{referral.id}").get_data(as_text=True)

    assert "Marisol Quintanilla" in before
    assert "Marisol Quintanilla" not in after and "12 Cedar Bend" not in after
    assert "The customer withdrew their consent; their details were removed." in after
    assert "appear once you accept" not in after


def _owner(db: Session, p: Parties):  # type: ignore[no-untyped-def]
    from referral.auth.models import User

    return db.exec(select(User).where(User.business_id == p.receiver.business_id)).one()


def test_the_receipt_api_hides_the_customer_until_acceptance_and_after_refusal(
    app: Flask, db: Session
) -> None:
    """The live leak: GET /api/v1/referrals/{id}/consent named the customer."""
    from referral.auth.apikeys.services import create_api_key

    p = parties(app, db)
    with app.app_context():
        key = create_api_key(session=db, actor=_owner(db, p), name="Brook CRM").secret
        db.commit()
    referral = refer(app, db, p, "attested_phone", AGREED)
    api = app.test_client()

    def receipt() -> dict:  # type: ignore[type-arg]
        response = api.get(
            f"/api/v1/referrals/{referral.id}/consent",
            headers={"Authorization": f"Bearer {key}"},
        )
        assert response.status_code == 200
        return response.json  # type: ignore[no-any-return]

    offered = receipt()
    with app.app_context():
        referrals.accept_referral(session=db, actor=p.receiver, referral_id=referral.id)
        db.commit()
    taken = receipt()

    assert offered["complete"] is False and offered["hash_matches"] is True
    assert offered["customer"] is None and offered["text"] is None
    assert "Marisol" not in json.dumps(offered)
    assert taken["customer"] == "Marisol Quintanilla" and taken["complete"] is True
    assert taken["agreed_at"] == AGREED.isoformat() and taken["method"] == "attested_phone"
    assert taken["recorded_by"] == "Sam Sunny of Sunny HVAC" and taken["recorded_at"]
    # Reading the named receipt is a view of the customer's details: audited for Sunny HVAC.
    views = db.exec(select(AuditEvent).where(AuditEvent.action == "contact_viewed")).all()
    assert [(v.owner_business_id, v.actor_business_id) for v in views] == [
        (p.sender.business_id, p.receiver.business_id)
    ]


# --- the agreed date --------------------------------------------------------------------


def test_the_day_the_customer_agreed_is_shown_beside_the_day_it_was_recorded(
    app: Flask, db: Session
) -> None:
    p = parties(app, db)
    referral = _accepted(app, db, p)
    shown = f"{AGREED:%B} {AGREED.day}, {AGREED.year}"
    sender = sign_in(app, _sender(db, p))
    customer = app.test_client()
    email = _confirmation(db)

    page = sender.get(f"/referrals/{referral.id}").get_data(as_text=True)
    web_receipt = sender.get(f"/referrals/{referral.id}/consent").get_data(as_text=True)
    withdrawal = customer.get(email.path("/consent/withdraw/")).get_data(as_text=True)

    for where in (page, web_receipt, withdrawal, email.text):
        assert shown in where
    assert "recorded" in page.lower() and "by Sam Sunny of Sunny HVAC" in page


def _sender(db: Session, p: Parties):  # type: ignore[no-untyped-def]
    from referral.auth.models import User

    return db.exec(select(User).where(User.business_id == p.sender.business_id)).one()


@pytest.mark.parametrize(
    ("days", "message"),
    [(-1, "cannot be in the future"), (366, "within the last year")],
)
def test_a_consent_recorded_for_a_day_in_the_future_or_over_a_year_ago_is_a_field_error(
    app: Flask, db: Session, days: int, message: str
) -> None:
    p = parties(app, db)
    day = (dt.date.today() - dt.timedelta(days=days)).isoformat()
    sam = sign_in(app, _sender(db, p))

    page = sam.post_form(
        "/referrals/new",
        {
            "partner_id": p.receiver.business_id,
            "customer_id": p.customer.id,
            "need": NEED,
            "urgency": "this_week",
            "consent_method": "attested_phone",
            "attested_on": day,
        },
    )

    assert page.status_code == 422
    assert message in page.get_data(as_text=True)
    assert db.exec(select(Referral)).all() == []
    assert db.exec(select(ConsentRecord)).all() == []


# --- receipts anyone can check ------------------------------------------------------------


def test_the_customer_can_repeat_the_receipts_hash_check(app: Flask, db: Session) -> None:
    p = parties(app, db)
    _accepted(app, db, p)
    receipt_link = _confirmation(db).path("/consent/receipt/")
    customer = app.test_client()

    page = customer.get(receipt_link).get_data(as_text=True)
    download = customer.get(receipt_link + "?format=json")

    data = download.json
    assert "attachment" in download.headers["Content-Disposition"]
    assert hashlib.sha256(data["text"].encode("utf-8")).hexdigest() == data["text_sha256"]
    assert data["text_sha256"] in page and "sha256sum" in page
    assert data["agreed_at"] == AGREED.isoformat() and data["method"] == "attested_phone"


# --- My consents -------------------------------------------------------------------------


def test_my_consents_lists_every_consent_of_the_same_person_with_that_business(
    app: Flask, db: Session
) -> None:
    p = parties(app, db)
    _accepted(app, db, p)
    with app.app_context():
        # The same person, entered again by Sunny HVAC; and someone else.
        create_customer(
            session=db,
            business_id=p.sender.business_id,
            data={"name": "M. Quintanilla", "email": CUSTOMER_EMAIL},
        )
        create_customer(
            session=db,
            business_id=p.sender.business_id,
            data={"name": "Somebody Else", "email": "else@customer.example"},
        )
        db.commit()
    mine = _confirmation(db).path("/consent/mine/")
    customer = app.test_client()

    page = customer.get(mine).get_data(as_text=True)
    withdraw = re.search(r'action="https?://[^/"]+(/consent/withdraw/[^"]+)"', page)
    assert withdraw
    customer.post_form(withdraw.group(1), {})
    after = customer.get(mine).get_data(as_text=True)

    assert "Brook Plumbing" in page and "Given" in page and "Receipt" in page
    assert "Somebody Else" not in page
    assert "Withdrawn" in after
    assert len(db.exec(select(ConsentWithdrawal)).all()) == 1


def test_a_forged_expired_or_foreign_my_consents_link_lists_nothing(
    app: Flask, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = parties(app, db)
    _accepted(app, db, p)
    mine = _confirmation(db).path("/consent/mine/")
    withdraw_token = _confirmation(db).path("/consent/withdraw/").rsplit("/", 1)[1]
    customer = app.test_client()
    later = dt.datetime.now(dt.UTC) + consent.MY_CONSENTS_VALID_FOR + dt.timedelta(days=1)

    forged = customer.get(mine[:-3] + "xyz")
    foreign = customer.get(f"/consent/mine/{withdraw_token}")  # a token made for another use
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda _: int(later.timestamp()))
    expired = customer.get(mine)

    for response in (forged, foreign, expired):
        assert response.status_code == 404
        body = response.get_data(as_text=True)
        assert "This link is not valid or has expired." in body
        assert "Brook Plumbing" not in body and "Marisol" not in body


# --- bad consent links ---------------------------------------------------------------------


def test_expired_and_tampered_consent_links_change_nothing(app: Flask, db: Session) -> None:
    p = parties(app, db)
    refer(app, db, p, "email_link")
    link = last_email(db, to=CUSTOMER_EMAIL).path("/consent/")
    customer = app.test_client()
    request = db.exec(select(ConsentRequest)).one()
    request.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    db.commit()

    expired = customer.post_form(link, {"answer": "yes"}, page="/login")
    tampered = customer.post_form(link[:-4] + "abcd", {"answer": "yes"}, page="/login")

    assert "This link has expired" in expired.get_data(as_text=True)
    assert "not valid" in tampered.get_data(as_text=True)
    assert db.exec(select(ConsentRecord)).all() == []
    assert db.exec(select(Referral.status)).all() == ["awaiting_consent"]


def test_two_answers_to_one_link_at_once_make_one_decision(app: Flask, db: Session) -> None:
    p = parties(app, db)
    refer(app, db, p, "email_link")
    link = last_email(db, to=CUSTOMER_EMAIL).path("/consent/")
    answers: list[str] = []
    barrier = threading.Barrier(2)

    def answer(choice: str) -> None:
        client = app.test_client()
        token = client.csrf_token("/login")
        barrier.wait()
        response = client.post(link, data={"answer": choice, "csrf_token": token})
        answers.append(response.get_data(as_text=True))

    threads = [threading.Thread(target=answer, args=(c,)) for c in ("yes", "no")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    records = db.exec(select(ConsentRecord)).all()
    assert len(records) == 1
    status = db.exec(select(Referral.status)).one()
    assert status == ("sent" if records[0].decision == "given" else "declined_by_customer")
    assert len(answers) == 2 and all("Thank you" in a or "Your consent" in a for a in answers)


def test_withdrawing_twice_withdraws_once_and_shows_the_same_page(app: Flask, db: Session) -> None:
    p = parties(app, db)
    _accepted(app, db, p)
    withdraw = _confirmation(db).path("/consent/withdraw/")
    customer = app.test_client()

    token = customer.csrf_token(withdraw)  # the page in two tabs, both clicked

    first = customer.post(withdraw, data={"csrf_token": token}).get_data(as_text=True)
    second = customer.post(withdraw, data={"csrf_token": token}).get_data(as_text=True)

    assert "Your consent is withdrawn" in first and "Your consent is withdrawn" in second
    assert len(db.exec(select(ConsentWithdrawal)).all()) == 1


def test_a_withdrawal_after_the_job_was_won_keeps_the_commission_and_removes_the_details(
    app: Flask, db: Session
) -> None:
    p = parties(app, db)
    referral = _accepted(app, db, p)
    with app.app_context():
        referrals.report_won(
            session=db,
            actor=p.receiver,
            referral_id=referral.id,
            job_value_cents=200_000,
            job_date=dt.date.today(),
        )
        db.commit()
    commission = db.exec(select(Commission)).one()

    app.test_client().post_form(_confirmation(db).path("/consent/withdraw/"), {})
    page = sign_in(app, _owner(db, p)).get(f"/referrals/{referral.id}").get_data(as_text=True)

    db.expire_all()
    assert db.get(Referral, referral.id).status == "won"  # type: ignore[union-attr]
    assert db.get(Commission, commission.id).amount_cents == commission.amount_cents  # type: ignore[union-attr]
    assert "Marisol" not in page and "withdrew their consent" in page


# --- erasure -----------------------------------------------------------------------------


def test_erasure_deletes_the_signed_form_and_the_receipt_keeps_its_proof(
    app: Flask, db: Session
) -> None:
    p = parties(app, db)
    sam = sign_in(app, _sender(db, p))
    sent = sam.post(
        "/referrals/new",
        data={
            "csrf_token": sam.csrf_token("/referrals/new"),
            "partner_id": str(p.receiver.business_id),
            "customer_id": str(p.customer.id),
            "need": NEED,
            "urgency": "this_week",
            "consent_method": "attested_writing",
            "attested_on": AGREED.isoformat(),
            "evidence": (io.BytesIO(PDF), "signed.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert sent.status_code == 302
    referral = db.exec(select(Referral)).one()
    with app.app_context():
        stored = evidence_path(hashlib.sha256(PDF).hexdigest())
    assert stored.read_bytes() == PDF

    with app.app_context():
        erase_customer(session=db, business_id=p.sender.business_id, customer_id=p.customer.id)  # type: ignore[arg-type]
        db.commit()
    receipt = sam.get(f"/referrals/{referral.id}/consent").get_data(as_text=True)

    assert not stored.exists()
    record = db.exec(select(ConsentRecord)).one()
    assert record.evidence_sha256 == hashlib.sha256(PDF).hexdigest()
    assert record.evidence_size == len(PDF) and record.evidence_uploaded_at is not None
    assert "Deleted when the customer was erased" in receipt
    assert CUSTOMER_EMAIL not in receipt
    assert record.evidence_sha256 in receipt and f"{len(PDF)} bytes" in receipt


def test_erasure_forgets_the_address_consent_requests_were_sent_to(app: Flask, db: Session) -> None:
    p = parties(app, db)
    refer(app, db, p, "email_link")

    with app.app_context():
        erase_customer(session=db, business_id=p.sender.business_id, customer_id=p.customer.id)  # type: ignore[arg-type]
        db.commit()

    db.expire_all()
    assert db.exec(select(ConsentRequest.sent_to)).all() == [""]


def test_the_api_refuses_a_consent_recorded_for_tomorrow_with_a_field_error(
    app: Flask, db: Session
) -> None:
    from referral.auth.apikeys.services import create_api_key

    p = parties(app, db)
    with app.app_context():
        key = create_api_key(session=db, actor=_sender(db, p), name="Sunny CRM").secret
        db.commit()

    response = app.test_client().post(
        "/api/v1/referrals",
        json={
            "partner_id": p.receiver.business_id,
            "customer_id": p.customer.id,
            "need": NEED,
            "urgency": "this_week",
            "consent_method": "attested_in_person",
            "attested_on": (dt.date.today() + dt.timedelta(days=1)).isoformat(),
        },
        headers={"Authorization": f"Bearer {key}"},
    )

    assert response.status_code == 422
    assert "cannot be in the future" in response.json["errors"]["attested_on"][0]
    assert db.exec(select(Referral)).all() == []
