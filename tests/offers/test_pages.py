"""The pages: a customer's click on a partner's offer through to the partner's
win, publishing offers (bad input is a form error), what partners see, the
pipeline, and bad links that record nothing."""

from __future__ import annotations

import datetime as dt
import threading

from flask import Flask
from sqlmodel import Session, select

from referral.auth.models import User
from referral.commissions.models import Commission
from referral.consent.models import ConsentRecord
from referral.customers.models import Customer, CustomerJob
from referral.offers.links import Source, offer_links
from referral.offers.models import Offer, Opportunity, SourceKind
from referral.referrals.models import Referral
from tests.support.factories import sign_in
from tests.support.mail import last_email
from tests.support.offers import publish

CAMPAIGN = Source(SourceKind.CAMPAIGN, 12)


def _user(db: Session, who) -> User:  # type: ignore[no-untyped-def]
    user = db.get(User, who.user_id)
    assert user is not None
    return user


def _path(app: Flask, db: Session, offer: Offer, customer: Customer) -> str:
    with app.app_context():
        (link,) = offer_links(db, offers=[offer], customer=customer, source=CAMPAIGN)
    return "/o/" + link.url.rsplit("/o/", 1)[1]


def test_from_the_link_to_the_partners_win(
    app: Flask, db: Session, hvac, plumber, ana: Customer, drain_offer: Offer
) -> None:
    path = _path(app, db, drain_offer, ana)
    customer = app.test_client()

    page = customer.get(path).get_data(as_text=True)
    assert "Drip Plumbing" in page and "Cool Air HVAC" in page
    assert "Yes, have Drip Plumbing contact me" in page and 'id="consent-text"' in page
    first = customer.post_form(path)
    second = customer.post_form(path, page="/login")  # a double POST

    assert first.status_code == second.status_code == 200
    assert "will contact you" in second.get_data(as_text=True)
    referral = db.exec(select(Referral)).one()
    record = db.exec(select(ConsentRecord)).one()
    assert (record.method, record.source) == ("campaign_click", "campaign:12")
    assert record.text.split(".")[0] in page  # the text shown is the text stored
    assert "/consent/withdraw/" in last_email(db, to="ana@example.com").text

    partner = sign_in(app, _user(db, plumber))
    accepted = partner.post_form(f"/referrals/{referral.id}/accept", page="/referrals/inbox")
    won = partner.post_form(
        f"/referrals/{referral.id}/won",
        {"job_value": "1200", "job_date": dt.date.today().isoformat()},
        page="/referrals/inbox",
    )

    assert accepted.status_code == won.status_code == 302
    db.expire_all()
    assert db.get(Referral, referral.id).status == "won"  # type: ignore[union-attr]
    commission = db.exec(select(Commission).where(Commission.referral_id == referral.id)).one()
    assert commission.amount_cents == 12_000


def test_bad_links_show_a_404_page_and_record_nothing(
    app: Flask, db: Session, hvac, plumber, ana: Customer, drain_offer: Offer
) -> None:
    path = _path(app, db, drain_offer, ana)
    customer = app.test_client()

    tampered = customer.get(path[:-2] + ("xy" if not path.endswith("xy") else "zz"))
    posted = customer.post_form(
        path[:-2] + "zz" if not path.endswith("zz") else path[:-2] + "yy", page="/login"
    )

    assert tampered.status_code == posted.status_code == 404
    assert "not valid" in tampered.get_data(as_text=True)
    assert db.exec(select(Referral)).all() == [] and db.exec(select(ConsentRecord)).all() == []


def test_an_ended_offer_says_so_and_creates_nothing(
    app: Flask, db: Session, hvac, plumber, ana: Customer, drain_offer: Offer
) -> None:
    path = _path(app, db, drain_offer, ana)
    owner = sign_in(app, _user(db, plumber))
    owner.post_form(f"/offers/{drain_offer.id}/end", page="/offers")
    customer = app.test_client()

    page = customer.get(path).get_data(as_text=True)
    posted = customer.post_form(path, page="/login").get_data(as_text=True)

    assert "has ended" in page and "has ended" in posted and "Yes, have" not in page
    assert db.exec(select(Referral)).all() == []


def test_publishing_an_offer_checks_each_field_and_partners_see_it(
    app: Flask, db: Session, hvac, plumber
) -> None:
    owner = sign_in(app, _user(db, plumber))
    bad = owner.post_form(
        "/offers",
        {"kind": "partner", "title": "", "benefit": "x", "valid_from": "soon", "zip_codes": "1234"},
        page="/offers/new",
    )
    good = owner.post_form(
        "/offers",
        {
            "kind": "partner",
            "title": "Drain cleaning <script>alert(1)</script>",
            "benefit": "10% off a first drain cleaning",
            "valid_from": dt.date.today().isoformat(),
            "zip_codes": "78701, 78702",
        },
        page="/offers/new",
    )

    assert bad.status_code == 422 and "Enter the first day" in bad.get_data(as_text=True)
    assert good.status_code == 302
    offer = db.exec(select(Offer)).one()
    assert offer.zip_codes == ["78701", "78702"]
    seen = sign_in(app, _user(db, hvac)).get("/offers").get_data(as_text=True)
    assert "Drip Plumbing" in seen and "10% off a first drain cleaning" in seen
    assert "<script>alert(1)</script>" not in seen and "&lt;script&gt;" in seen


def test_the_pipeline_marks_an_opportunity_won_as_a_job(
    app: Flask, db: Session, hvac, ana: Customer
) -> None:
    plan = publish(db, hvac, kind="own", title="Service plan", benefit="Two tune-ups a year")
    path = _path(app, db, plan, ana)
    customer = app.test_client()
    page = customer.get(path).get_data(as_text=True)
    assert "Yes, I'm interested" in page
    customer.post_form(path)
    opportunity = db.exec(select(Opportunity)).one()
    owner = sign_in(app, _user(db, hvac))

    listed = owner.get("/opportunities").get_data(as_text=True)
    refused = owner.post_form(
        f"/opportunities/{opportunity.id}/won",
        {"amount": "-5", "won_on": "x"},
        page="/opportunities",
    )
    won = owner.post_form(
        f"/opportunities/{opportunity.id}/won",
        {"amount": "299", "won_on": dt.date.today().isoformat()},
        page="/opportunities",
    )

    assert "Ana Diaz" in listed and "Service plan" in listed
    assert refused.status_code == 422
    assert won.status_code == 302
    job = db.exec(select(CustomerJob)).one()
    assert (job.customer_id, job.amount_cents) == (ana.id, 29_900)


def test_yes_clicked_in_several_tabs_at_once_makes_one_referral(
    app: Flask, db: Session, hvac, plumber, ana: Customer, drain_offer: Offer
) -> None:
    path = _path(app, db, drain_offer, ana)
    tabs = [app.test_client() for _ in range(4)]
    tokens = [tab.csrf_token(path) for tab in tabs]
    start = threading.Barrier(len(tabs))
    answers: list[int] = []

    def click(n: int) -> None:
        start.wait()
        answers.append(tabs[n].post(path, data={"csrf_token": tokens[n]}).status_code)

    threads = [threading.Thread(target=click, args=(n,)) for n in range(len(tabs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert answers == [200] * len(tabs)
    assert len(db.exec(select(Referral)).all()) == 1
    assert len(db.exec(select(ConsentRecord)).all()) == 1
