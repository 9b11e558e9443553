"""Which changes write which events, for whom: each in the transaction of its
change, to each business concerned that has an endpoint taking it."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from sqlmodel import Session, select

from referral.commissions import services as commissions
from referral.commissions.models import Commission
from referral.customers.services import create_customer
from referral.events.models import EVENT_TYPES, WebhookEvent
from referral.integrations import services
from referral.integrations.services import EndpointInput
from referral.referrals import services as referrals
from tests.support.factories import (
    actor,
    agreed_partnership,
    make_business,
    make_user,
    won_referral,
)
from tests.support.integrations import Party, refer


def _events(db: Session, business_id: int) -> list[str]:
    return list(
        db.exec(
            select(WebhookEvent.type)
            .where(WebhookEvent.business_id == business_id)
            .order_by(WebhookEvent.id)
        )
    )


def _customer(db: Session, owner: Party, name: str) -> int:
    customer = create_customer(
        session=db,
        business_id=owner.business_id,
        data={"name": f"{name} Diaz", "email": f"{name.lower()}@example.com"},
    )
    db.commit()
    assert customer.id is not None
    return customer.id


def test_partnership_referral_and_commission_changes_write_their_events(
    app: Flask, db: Session, hvac: Party
) -> None:
    business = make_business(db, name="Drip Plumbing", trade="plumbing", zip_code="78704")
    plumber = Party(actor(make_user(db, business), business), "", "")
    with app.app_context():
        for party in (hvac, plumber):
            services.create_endpoint(
                session=db,
                business_id=party.business_id,
                data=EndpointInput(url="http://127.0.0.1:9/hooks", event_types=list(EVENT_TYPES)),
            )
        db.commit()
        agreed_partnership(db, hvac.actor, plumber.actor)

    declined, withdrawn, won = (
        refer(app, db, hvac, plumber, _customer(db, hvac, name)) for name in ("Ana", "Bo", "Cy")
    )
    with app.app_context():
        referrals.decline_referral(session=db, actor=plumber.actor, referral_id=declined.id)
        referrals.withdraw_referral(session=db, actor=hvac.actor, referral_id=withdrawn.id)
        referrals.accept_referral(session=db, actor=plumber.actor, referral_id=won.id)
        referrals.report_won(
            session=db,
            actor=plumber.actor,
            referral_id=won.id,
            job_value_cents=100_000,
            job_date=dt.date(2026, 11, 25),
        )
        commission = db.exec(select(Commission).where(Commission.referral_id == won.id)).first()
        assert commission is not None
        assert commissions.approve(db, commission, now=commission.hold_until)
        db.commit()

    both = ["partnership.proposed", "partnership.activated"]
    assert _events(db, plumber.business_id) == [
        *both,
        *["consent.given", "referral.received"] * 3,
        "referral.declined",
        "referral.withdrawn",
        "referral.accepted",
        "referral.won",
        "commission.approved",
    ]
    assert _events(db, hvac.business_id) == [
        *both,
        *["consent.given"] * 3,
        "referral.declined",
        "referral.withdrawn",
        "referral.accepted",
        "referral.won",
        "commission.approved",
    ]
    approved = db.exec(
        select(WebhookEvent).where(WebhookEvent.type == "commission.approved")
    ).first()
    assert approved is not None
    assert approved.data["amount_cents"] == commission.amount_cents > 0
    assert approved.data["status"] == "approved"


def test_an_endpoint_gets_only_the_types_it_chose(
    app: Flask, db: Session, hvac: Party, plumber: Party, customer_id: int
) -> None:
    _endpoint(app, db, plumber, ["referral.won"])
    refer(app, db, hvac, plumber, customer_id)
    assert _events(db, plumber.business_id) == []


def test_commissions_approved_together_each_write_their_event(
    app: Flask, db: Session, hvac: Party, plumber: Party
) -> None:
    """Settle now approves a business's due commissions in one batch (one read
    of endpoints for all): each still writes its own event, in order."""
    _endpoint(app, db, hvac, ["commission.approved"])
    with app.app_context():
        for _ in range(2):
            won_referral(db, hvac.actor, plumber.actor, 100_000)
        due = db.exec(select(Commission).order_by(Commission.id)).all()
        later = max(c.hold_until for c in due)
        assert commissions.approve_due(db, business_id=hvac.business_id, now=later) == 2
        db.commit()

    approved = db.exec(select(WebhookEvent).order_by(WebhookEvent.id)).all()
    assert [(e.type, e.business_id, e.data["commission_id"]) for e in approved] == [
        ("commission.approved", hvac.business_id, c.id) for c in due
    ]


def _endpoint(app: Flask, db: Session, party: Party, event_types: list[str]) -> None:
    with app.app_context():
        services.create_endpoint(
            session=db,
            business_id=party.business_id,
            data=EndpointInput(url="http://127.0.0.1:9/hooks", event_types=event_types),
        )
        db.commit()
