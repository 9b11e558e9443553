"""Referrals: consent first, then the partner answers and reports the outcome."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import DatabaseError
from sqlmodel import Session, select

from referral.consent import services as consent
from referral.consent.models import ConsentRecord, ConsentRequest
from referral.customers.services import create_customer
from referral.errors import DomainError, NotFound
from referral.partnerships import services as partnerships
from referral.referrals import services
from referral.referrals.models import Referral, ReferralEvent
from tests.support.factories import actor, make_business, make_user, refer
from tests.support.jobs import run_jobs
from tests.support.mail import last_email

pytestmark = pytest.mark.usefixtures("app_context")


def consent_token(db: Session) -> str:
    return last_email(db, to="ana@example.com").link("/consent/").rsplit("/", 1)[1]


def test_the_customer_says_yes_then_the_partner_accepts_and_wins(
    db: Session, hvac, plumber, customer_id: int
) -> None:
    referral = refer(db, hvac, plumber, customer_id)
    assert referral.status == "awaiting_consent"
    assert not services.contact_visible_to(db, referral, plumber.business_id)

    services.answer_consent(
        session=db, token=consent_token(db), yes=True, ip="203.0.113.9", user_agent="Mobile Safari"
    )
    db.commit()
    assert referral.status == "sent" and referral.respond_by is not None
    assert not services.contact_visible_to(db, referral, plumber.business_id)

    services.accept_referral(session=db, actor=plumber, referral_id=referral.id)
    assert services.contact_visible_to(db, referral, plumber.business_id)
    services.report_won(
        session=db,
        actor=plumber,
        referral_id=referral.id,
        job_value_cents=480000,
        job_date=dt.date(2026, 11, 1),
    )
    db.commit()

    assert (referral.status, referral.job_value_cents) == ("won", 480000)
    record = db.exec(select(ConsentRecord)).one()
    assert (record.method, record.decision, record.ip) == ("email_link", "given", "203.0.113.9")
    assert record.receiving_business_id == plumber.business_id
    assert "Drip Plumbing" in record.text and "phone number" in record.data_categories
    receipt = consent.receipt(db, record)
    assert receipt["hash_matches"] and receipt["receiving_business"] == "Drip Plumbing"
    actions = db.exec(select(ReferralEvent.action).order_by(ReferralEvent.id)).all()
    assert actions == ["created", "sent", "accepted", "won"]


def test_the_customer_says_no_and_nothing_is_shared(
    db: Session, hvac, plumber, customer_id: int
) -> None:
    referral = refer(db, hvac, plumber, customer_id)

    services.answer_consent(session=db, token=consent_token(db), yes=False)
    db.commit()

    assert referral.status == "declined_by_customer"
    with pytest.raises(DomainError):
        services.accept_referral(session=db, actor=plumber, referral_id=referral.id)


def test_a_consent_link_works_once_and_expires(
    db: Session, hvac, plumber, customer_id: int
) -> None:
    refer(db, hvac, plumber, customer_id)
    token = consent_token(db)
    services.answer_consent(session=db, token=token, yes=True)
    db.commit()

    with pytest.raises(DomainError, match="already answered"):
        services.answer_consent(session=db, token=token, yes=False)
    with pytest.raises(DomainError, match="not valid"):
        services.answer_consent(session=db, token=token[:-2] + "xx", yes=True)

    other = create_customer(
        session=db, business_id=hvac.business_id, data={"name": "Ben", "email": "ana@example.com"}
    )
    db.commit()
    refer(db, hvac, plumber, other.id)
    db.execute(update(ConsentRequest).values(expires_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
    db.commit()
    with pytest.raises(DomainError, match="expired"):
        services.answer_consent(session=db, token=consent_token(db), yes=True)


def test_attested_consent_sends_at_once_and_emails_the_customer_a_withdrawal_link(
    db: Session, hvac, plumber, customer_id: int
) -> None:
    referral = refer(
        db,
        hvac,
        plumber,
        customer_id,
        consent_method="attested_phone",
        attested_on=dt.date.today(),
    )

    assert referral.status == "sent"
    record = db.exec(select(ConsentRecord)).one()
    assert (record.method, record.attested_by_user_id) == ("attested_phone", hvac.user_id)
    confirmation = last_email(db, to="ana@example.com")
    assert "Drip Plumbing" in confirmation.subject
    assert "/consent/withdraw/" in confirmation.link("/consent/withdraw/")


def test_withdrawal_after_acceptance_removes_access_at_once(
    db: Session, hvac, plumber, customer_id: int
) -> None:
    referral = refer(db, hvac, plumber, customer_id, consent_method="attested_in_person")
    services.accept_referral(session=db, actor=plumber, referral_id=referral.id)
    db.commit()
    assert services.contact_visible_to(db, referral, plumber.business_id)
    token = last_email(db, to="ana@example.com").link("/consent/withdraw/").rsplit("/", 1)[1]

    services.withdraw_consent_by_link(session=db, token=token)
    db.commit()

    assert referral.status == "withdrawn"
    assert not services.contact_visible_to(db, referral, plumber.business_id)
    assert consent.receipt(db, db.exec(select(ConsentRecord)).one())["withdrawn"]


def test_referrals_only_go_to_active_non_competing_partners(
    db: Session, hvac, plumber, customer_id: int
) -> None:
    partnership = partnerships.live_partnership_between(db, hvac.business_id, plumber.business_id)
    partnerships.pause_partnership(session=db, actor=plumber, partnership_id=partnership.id)
    db.commit()
    with pytest.raises(DomainError, match="paused"):
        refer(db, hvac, plumber, customer_id)

    stranger_business = make_business(db, trade="electrical", zip_code="78702")
    stranger = actor(make_user(db, stranger_business), stranger_business)
    with pytest.raises(DomainError, match="not agreed"):
        refer(db, hvac, stranger, customer_id)
    assert db.exec(select(Referral)).all() == []


def test_the_same_customer_to_the_same_partner_twice_in_30_days_is_refused(
    db: Session, hvac, plumber, customer_id: int
) -> None:
    first = refer(db, hvac, plumber, customer_id)

    with pytest.raises(DomainError) as refused:
        refer(db, hvac, plumber, customer_id)
    assert refused.value.errors == {"referral_id": [str(first.id)]}


def test_a_retried_request_with_the_same_idempotency_key_creates_one_referral(
    db: Session, hvac, plumber, customer_id: int
) -> None:
    first = refer(db, hvac, plumber, customer_id, idempotency_key="abc-123")
    again = refer(db, hvac, plumber, customer_id, idempotency_key="abc-123")

    assert first.id == again.id
    assert len(db.exec(select(Referral)).all()) == 1


def test_illegal_transitions_and_other_tenants_are_refused(
    db: Session, hvac, plumber, customer_id: int
) -> None:
    referral = refer(db, hvac, plumber, customer_id, consent_method="attested_writing")
    with pytest.raises(DomainError):  # won before accepted
        services.report_won(
            session=db,
            actor=plumber,
            referral_id=referral.id,
            job_value_cents=100,
            job_date=dt.date(2026, 1, 1),
        )
    with pytest.raises(DomainError):  # the sender cannot accept its own referral
        services.accept_referral(session=db, actor=hvac, referral_id=referral.id)
    outsider_business = make_business(db, trade="roofing", zip_code="78702")
    outsider = actor(make_user(db, outsider_business), outsider_business)
    with pytest.raises(NotFound):
        services.accept_referral(session=db, actor=outsider, referral_id=referral.id)
    with pytest.raises(NotFound):  # another business's customer
        other_customer = create_customer(
            session=db,
            business_id=outsider.business_id,
            data={"name": "Zed", "email": "z@example.com"},
        )
        db.commit()
        refer(db, hvac, plumber, other_customer.id)


def test_unanswered_referrals_expire(db: Session, hvac, plumber, customer_id: int) -> None:
    referral = refer(db, hvac, plumber, customer_id, consent_method="attested_phone")

    assert (
        services.expire_overdue(session=db, now=referral.respond_by - dt.timedelta(minutes=1)) == 0
    )
    assert (
        services.expire_overdue(session=db, now=referral.respond_by + dt.timedelta(minutes=1)) == 1
    )
    db.commit()
    assert referral.status == "expired"


def test_consent_records_cannot_be_changed_or_deleted(
    db: Session, hvac, plumber, customer_id: int
) -> None:
    refer(db, hvac, plumber, customer_id, consent_method="attested_phone")
    for statement in (
        "UPDATE consent_record SET decision = 'refused'",
        "DELETE FROM consent_record",
    ):
        with pytest.raises(DatabaseError, match="append-only"):
            db.execute(text(statement))
        db.rollback()
    assert db.exec(select(ConsentRecord.decision)).all() == ["given"]


def test_a_job_at_the_deadline_expires_an_unanswered_referral(
    app, db: Session, hvac, plumber, customer_id: int
) -> None:  # type: ignore[no-untyped-def]
    from referral.jobs.models import Job
    from referral.jobs.worker import run_due_jobs

    referral = refer(db, hvac, plumber, customer_id, consent_method="attested_phone")
    job = db.exec(select(Job).where(Job.kind == "referral.expire")).one()
    assert job.run_at == referral.respond_by

    db.execute(update(Referral).values(respond_by=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
    db.execute(update(Job).values(run_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
    db.commit()
    run_due_jobs(app)

    db.refresh(referral)
    db.refresh(job)
    assert referral.status == "expired", job.last_error


def test_erasing_a_customer_withdraws_open_referrals_and_keeps_outcomes(
    db: Session, hvac, plumber, customer_id: int
) -> None:
    from referral.customers.models import Customer
    from referral.customers.services import erase_customer
    from referral.notifications.models import Notification

    open_one = refer(db, hvac, plumber, customer_id, consent_method="attested_phone")

    erase_customer(session=db, business_id=hvac.business_id, customer_id=customer_id)
    db.commit()

    customer = db.get(Customer, customer_id)
    assert (customer.email, customer.phone, customer.name) == (
        "",
        "",
        f"Erased customer {customer_id}",
    )
    assert open_one.status == "withdrawn"
    kinds = db.exec(
        select(Notification.kind).where(Notification.business_id == plumber.business_id)
    )
    assert "referral.customer_erased" in kinds.all()


def test_erasing_a_customer_forgets_the_email_sent_to_them_and_cancels_the_rest(
    app, db: Session, hvac, plumber, customer_id: int
) -> None:
    from referral.customers.services import erase_customer
    from referral.jobs.models import Job
    from referral.mail.models import OutboxEmail
    from referral.mail.services import SEND_EMAIL, queue_email

    refer(db, hvac, plumber, customer_id)  # asks the customer by email
    run_jobs(app)
    assert db.exec(select(OutboxEmail).where(OutboxEmail.recipient == "ana@example.com")).all()
    unsent = queue_email(
        db,
        to="ana@example.com",
        subject="Ana, your details",
        template="notification",
        name="Ana Diaz",
        title="12 Elm St",
        link="",
        business={"name": "Cool Air HVAC"},
    )
    db.commit()

    erase_customer(session=db, business_id=hvac.business_id, customer_id=customer_id)
    db.commit()
    run_jobs(app)

    db.expire_all()
    emails = db.exec(select(Job).where(Job.kind == SEND_EMAIL)).all()
    assert not [job.id for job in emails if "ana@example.com" in str(job.payload)]
    assert not [job.id for job in emails if "Ana Diaz" in str(job.payload)]
    assert not db.exec(select(OutboxEmail).where(OutboxEmail.recipient == "ana@example.com")).all()
    cancelled = db.get(Job, unsent.id)
    assert (cancelled.status, cancelled.last_error) == ("done", "cancelled: recipient erased")
    assert not db.exec(select(OutboxEmail).where(OutboxEmail.subject == "Ana, your details")).all()


def test_the_earliest_consented_referral_of_the_same_person_is_credited(
    db: Session, hvac, plumber, customer_id: int
) -> None:
    electric_business = make_business(
        db, name="Spark Electric", trade="electrical", zip_code="78702"
    )
    electric = actor(make_user(db, electric_business), electric_business)
    from tests.support.factories import agreed_partnership

    agreed_partnership(db, electric, plumber)
    same_person = create_customer(
        session=db,
        business_id=electric.business_id,
        data={"name": "A. Diaz", "email": "ana@example.com"},
    )
    db.commit()
    first = refer(db, hvac, plumber, customer_id, consent_method="attested_phone")
    second = refer(db, electric, plumber, same_person.id, consent_method="attested_phone")

    claims = services.attribution(db, second)

    assert [(c.referral_id, c.credited) for c in claims] == [(first.id, True), (second.id, False)]
    assert claims[0].consented_at <= claims[1].consented_at


def test_discovery_shows_a_partners_track_record(
    db: Session, hvac, plumber, customer_id: int
) -> None:
    from referral.partnerships.discovery import discover_partners

    won = refer(db, hvac, plumber, customer_id, consent_method="attested_phone")
    services.accept_referral(session=db, actor=plumber, referral_id=won.id)
    services.report_won(
        session=db,
        actor=plumber,
        referral_id=won.id,
        job_value_cents=100,
        job_date=dt.date(2026, 11, 1),
    )
    second = create_customer(
        session=db, business_id=hvac.business_id, data={"name": "Ben", "email": "ben@example.com"}
    )
    db.commit()
    declined = refer(db, hvac, plumber, second.id, consent_method="attested_phone")
    services.decline_referral(session=db, actor=plumber, referral_id=declined.id)
    db.commit()

    found, _ = discover_partners(session=db, business=hvac.business)

    signals = next(c for c in found if c.business.id == plumber.business_id).signals
    assert signals is not None
    assert (signals.received, signals.acceptance_rate, signals.win_rate) == (2, 0.5, 1.0)
    assert signals.median_answer_hours is not None and signals.median_answer_hours < 1
