"""A click is consent: a customer's yes to a partner's offer in an email is a
consented referral that follows the normal lifecycle, made once, and only
while the offer and the partnership stand."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from flask import Flask
from sqlmodel import Session, select

from referral.consent.models import ConsentRecord
from referral.customers.models import Customer
from referral.customers.services import erase_customer
from referral.errors import NotFound, ValidationFailed
from referral.offers.landing import open_landing, say_yes
from referral.offers.links import Source, offer_links, offer_token
from referral.offers.models import Offer, OfferReferral, SourceKind
from referral.partnerships import services as partnerships
from referral.referrals import services as referrals
from referral.referrals.models import Referral
from referral.referrals.services import NewReferral
from tests.support.factories import actor, commission_of, make_business, make_user
from tests.support.mail import last_email
from tests.support.offers import publish

CAMPAIGN_7 = Source(SourceKind.CAMPAIGN, 7)


def _token(offer: Offer, customer: Customer, source: Source = CAMPAIGN_7) -> str:
    return offer_token(offer_id=offer.id or 0, customer_id=customer.id or 0, source=source)


def test_a_yes_is_a_consented_referral_the_partner_accepts_and_wins(
    app: Flask, db: Session, hvac, plumber, ana: Customer, drain_offer: Offer
) -> None:
    with app.app_context():
        (link,) = offer_links(db, offers=[drain_offer], customer=ana, source=CAMPAIGN_7)
        token = link.url.rsplit("/o/", 1)[1]
        page = open_landing(db, token)
        landing = say_yes(db, token, ip="127.0.0.1", user_agent="mail client")
        db.commit()

    assert (link.title, link.benefit) == ("First drain cleaning", "10% off a first drain cleaning")
    assert page.publisher.name == "Drip Plumbing" and page.text is not None
    assert "Drip Plumbing" in page.text.text and "name" in page.text.categories
    assert landing.answered and landing.problem is None
    referral = db.exec(select(Referral)).one()
    assert (referral.sender_id, referral.receiver_id) == (hvac.business_id, plumber.business_id)
    assert referral.status == "sent" and referral.consent_method == "campaign_click"
    record = db.exec(select(ConsentRecord)).one()
    assert (record.method, record.source, record.decision) == (
        "campaign_click",
        "campaign:7",
        "given",
    )
    assert record.text == page.text.text
    assert record.text_sha256 == hashlib.sha256(record.text.encode()).hexdigest()
    confirmation = last_email(db, to="ana@example.com")
    assert "/consent/withdraw/" in confirmation.text

    with app.app_context():
        referrals.accept_referral(session=db, actor=plumber, referral_id=referral.id or 0)
        referrals.report_won(
            session=db,
            actor=plumber,
            referral_id=referral.id or 0,
            job_value_cents=80_000,
            job_date=dt.date.today(),
        )
        db.commit()

    commission = commission_of(db, referral)
    assert commission is not None and commission.amount_cents == 8_000  # the partnership's 10%


def test_clicking_twice_makes_one_referral(
    app: Flask, db: Session, hvac, plumber, ana: Customer, drain_offer: Offer
) -> None:
    with app.app_context():
        say_yes(db, _token(drain_offer, ana))
        db.commit()
        again = say_yes(db, _token(drain_offer, ana))
        from_a_follow_up = say_yes(db, _token(drain_offer, ana, Source(SourceKind.FOLLOW_UP, 3)))
        db.commit()

    assert again.answered and from_a_follow_up.answered
    assert len(db.exec(select(Referral)).all()) == 1
    assert len(db.exec(select(ConsentRecord)).all()) == 1
    assert len(db.exec(select(OfferReferral)).all()) == 1


def test_an_expired_offer_shows_why_and_creates_nothing(
    app: Flask, db: Session, hvac, plumber, ana: Customer
) -> None:
    expired = publish(
        db,
        plumber,
        valid_from=dt.date.today() - dt.timedelta(days=30),
        valid_until=dt.date.today() - dt.timedelta(days=1),
    )
    with app.app_context():
        landing = say_yes(db, _token(expired, ana))
        db.commit()

    assert landing.problem is not None and "has ended" in landing.problem
    assert db.exec(select(Referral)).all() == []
    assert db.exec(select(ConsentRecord)).all() == []


@pytest.mark.parametrize("change", ["pause", "end"])
def test_a_paused_or_ended_partnership_shows_why_and_creates_nothing(
    app: Flask, db: Session, hvac, plumber, ana: Customer, drain_offer: Offer, change: str
) -> None:
    with app.app_context():
        (partnership,) = partnerships.list_partnerships(session=db, business_id=hvac.business_id)
        action = (
            partnerships.pause_partnership if change == "pause" else partnerships.end_partnership
        )
        action(session=db, actor=hvac, partnership_id=partnership.id)
        db.commit()
        links = offer_links(db, offers=[drain_offer], customer=ana, source=CAMPAIGN_7)
        landing = say_yes(db, _token(drain_offer, ana))
        db.commit()

    assert links == []  # not offered any more
    assert landing.problem is not None and "not working together" in landing.problem
    assert db.exec(select(Referral)).all() == []
    assert db.exec(select(ConsentRecord)).all() == []


def test_tampered_or_foreign_tokens_are_not_found_and_record_nothing(
    app: Flask, db: Session, hvac, plumber, ana: Customer, drain_offer: Offer
) -> None:
    stranger = make_business(db, name="Far Away Roofing", trade="roofing", zip_code="10001")
    stranger_actor = actor(make_user(db, stranger), stranger)
    foreign_offer = publish(db, stranger_actor)  # no partnership with Cool Air
    own_offer_of_another = publish(db, plumber, kind="own")  # Ana is not Drip's customer
    with app.app_context():
        token = _token(drain_offer, ana)
        tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
        for bad in (
            tampered,
            "not-a-token",
            _token(foreign_offer, ana),
            _token(own_offer_of_another, ana),
        ):
            with pytest.raises(NotFound):
                say_yes(db, bad)
        db.commit()

    assert db.exec(select(Referral)).all() == []
    assert db.exec(select(ConsentRecord)).all() == []


def test_an_erased_customer_gets_nothing(
    app: Flask, db: Session, hvac, plumber, ana: Customer, drain_offer: Offer
) -> None:
    with app.app_context():
        token = _token(drain_offer, ana)
        erase_customer(session=db, business_id=hvac.business_id, customer_id=ana.id or 0)
        db.commit()
        db.refresh(ana)
        assert offer_links(db, offers=[drain_offer], customer=ana, source=CAMPAIGN_7) == []
        with pytest.raises(NotFound):
            say_yes(db, token)

    assert db.exec(select(Referral)).all() == []


def test_an_offer_limited_to_an_area_reaches_only_customers_inside_it(
    app: Flask, db: Session, hvac, plumber, ana: Customer
) -> None:
    elsewhere = publish(db, plumber, zip_codes=["78745"])
    nearby = publish(db, plumber, radius_miles=10)  # Ana's 78702 is a few miles from 78704
    with app.app_context():
        links = offer_links(db, offers=[elsewhere, nearby], customer=ana, source=CAMPAIGN_7)
        landing = say_yes(db, _token(elsewhere, ana))

    assert [link.offer_id for link in links] == [nearby.id]
    assert landing.problem is not None and "not available where you are" in landing.problem


def test_staff_cannot_claim_a_campaign_click(app: Flask, db: Session, hvac, plumber, ana) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed) as refused:
        NewReferral(
            partner_id=plumber.business_id,
            customer_id=ana.id,
            need="Drains",
            urgency="this_week",
            consent_method="campaign_click",
        )

    assert "consent_method" in refused.value.errors
