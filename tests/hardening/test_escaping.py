"""Hostile text in every free-text field (tests/hardening/corpus.py) is stored
exactly as given, shown escaped on every page and in every HTML email, sent
unaltered in plain-text email and JSON, never breaks an email header, and
never runs as a formula in a CSV export.

The world is build_own_world's (tests/support/world.py) with every text
hostile, plus what it leaves plain: the owner's and a staff member's names, the profile's
description (through the API), a declined proposal's reason and a dispute's
note. Pages are walked from the app's URL map (tests/support/routes.py): the
business's own pages as its owner, the operator pages as an operator, the
public pages (consent, withdrawal, invitation) as their recipient would."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html import unescape
from typing import Any

import pytest
from flask import Flask
from sqlmodel import Session, col, select

from referral.analytics import tables
from referral.analytics.views import FIGURES
from referral.auth.models import ApiKey, User
from referral.auth.team import accept_invitation, invite_member
from referral.businesses.models import Business, Trade
from referral.consent.models import ConsentRecord
from referral.consent.services import my_consents_link, receipt_link, withdrawal_link
from referral.customers.marketing import opt_in_token, unsubscribe_token
from referral.customers.models import Customer, CustomerJob
from referral.leads import disputes
from referral.leads.models import Lead, LeadDispute
from referral.mail.delivery import build_message
from referral.mail.models import OutboxEmail
from referral.offers.links import Source, offer_url
from referral.offers.models import Offer, SourceKind
from referral.partnerships import services as partnerships
from referral.partnerships.models import Proposal
from referral.referrals.models import Referral, ReferralEvent
from referral.settlements import statements
from tests.hardening.corpus import (
    FIELD_LENGTHS,
    FORMULA_CELLS,
    HOSTILE,
    escaped_fields,
    html_leaks,
    verbatim_fields,
)
from tests.support.factories import PASSWORD, make_business, make_user, sign_in
from tests.support.jobs import run_jobs
from tests.support.mail import last_email, queued_emails, sent_emails
from tests.support.routes import (
    LIVE_STATUS,
    NON_TENANT_VARIABLES,
    PUBLIC,
    SHOWS_EVERYONES_EMAIL,
    Caller,
    Route,
    all_routes,
)
from tests.support.stripe_standin import StripeStandIn, stripe_standin  # noqa: F401
from tests.support.world import OwnWorld, build_own_world

# Public routes whose pages show no stored text, or serve files.
NO_STORED_TEXT = {
    "static": "stylesheets and scripts",
    "docs.swagger_asset": "the API reference's files",
    "docs.swagger_ui": "the API reference: the spec only",
    "api-docs.openapi_json": "the spec only",
    "home.health": "the health check",
    "auth.reset_password": "a password form: names nobody",
    "auth.verify": "confirms an address and redirects: names nobody",
    **{endpoint: f"{what} live status: a state name" for endpoint, what in LIVE_STATUS.items()},
}
# Where each field is stored: (model, column) pairs.
STORED_IN: dict[str, list[Any]] = {
    "business_name": [Business.name],
    "partnership_message": [Proposal.message],
    "customer_name": [Customer.name],
    "customer_address": [Customer.address],
    "customer_notes": [Customer.notes],
    "job_description": [CustomerJob.description],
    "referral_need": [Referral.need],
    "preferred_contact_time": [Referral.preferred_contact_time],
    "reason": [Referral.decline_reason, ReferralEvent.note],
    "lead_need": [Lead.need],
    "api_key_name": [ApiKey.name],
    "owner_name": [User.name],
    "staff_name": [User.name],
    "business_description": [Business.description],
    "proposal_decline_reason": [Proposal.decline_reason],
    "dispute_note": [LeadDispute.note],
    "offer_title": [Offer.title],
    "offer_benefit": [Offer.benefit],
    "offer_description": [Offer.description],
}
# A cell a spreadsheet would run; a number (negative amounts) is not one.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"-?\d+(?:\.\d+)?%?")
SRCDOC = re.compile(r'srcdoc="([^"]*)"')
HTML_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#39|#34|#x27);")


@pytest.fixture
def app_overrides(stripe_standin: StripeStandIn) -> dict[str, object]:  # noqa: F811
    return {"STRIPE_API_BASE": stripe_standin.api_base, "MAIL_BACKEND": "outbox"}


@dataclass
class Hostile:
    """The hostile world, its owner's browser and key, an operator's browser,
    and the public links (by endpoint) its emails carry."""

    world: OwnWorld
    owner: Caller
    operator: Caller
    anonymous: Caller
    links: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def hostile(
    app: Flask,
    db: Session,
    stripe_standin: StripeStandIn,  # noqa: F811
) -> Hostile:
    with app.app_context():
        world = build_own_world(db, standin=stripe_standin, text=HOSTILE.__getitem__)
        owner = db.get(User, world.me.user_id)
        assert owner is not None
        owner.name = HOSTILE["owner_name"]
        invite_member(session=db, actor=owner, email="staff@me.example", role="staff")
        token = last_email(db, to="staff@me.example").path("/invitations/").rsplit("/", 1)[1]
        accept_invitation(session=db, token=token, name=HOSTILE["staff_name"], password=PASSWORD)
        invite_member(session=db, actor=owner, email="pending@me.example", role="manager")
        offered = world.ids["partnership_id"][1]  # the electrician's proposal to me
        partnerships.decline_proposal(
            session=db,
            actor=world.me,
            partnership_id=offered,
            reason=HOSTILE["proposal_decline_reason"],
        )
        dispute = disputes.open_dispute(
            session=db,
            actor=world.me,
            purchase_id=world.ids["purchase_id"][0],
            reason="wrong_contact",
            note=HOSTILE["dispute_note"],
        )
        db.commit()
        world.add("dispute_id", dispute.id)
        world.add("trade_id", db.exec(select(Trade.id)).first())
        operator = make_user(
            db, make_business(db, name="Platform"), email="ops@platform.example", is_operator=True
        )
        record = db.exec(select(ConsentRecord)).first()
        assert record is not None
        links = {
            "consent.ask": consent_request_link(db),
            "auth.accept_invitation": last_email(db, to="pending@me.example").path("/invitations/"),
            "consent.withdraw": _path(withdrawal_link(record)),
            "consent.receipt": _path(receipt_link(record)),
            "consent.mine": _path(my_consents_link(record.customer_id)),
            "offers.landing": _path(
                offer_url(
                    offer_id=db.exec(select(Offer.id).where(Offer.kind == "partner")).one(),
                    customer_id=world.ids["customer_id"][0],
                    source=Source(SourceKind.CAMPAIGN, 1),
                )
            ),
        }
        marketed = db.get(Customer, record.customer_id)
        assert marketed is not None
        links["marketing.unsubscribe"] = f"/marketing/unsubscribe/{unsubscribe_token(marketed)}"
        links["marketing.confirm"] = f"/marketing/confirm/{opt_in_token(marketed)}"
    run_jobs(app)  # the email goes to the outbox, which the dev outbox pages show
    world.add("email_id", *db.exec(select(OutboxEmail.id)))
    owner_browser = Caller(sign_in(app, owner), api_key=world.api_key)
    response = owner_browser.api(
        "PATCH", "/api/v1/business", {"description": HOSTILE["business_description"]}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return Hostile(
        world=world,
        owner=owner_browser,
        operator=Caller(sign_in(app, operator)),
        anonymous=Caller(app.test_client()),
        links=links,
    )


def _path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def consent_request_link(db: Session) -> str:
    """The path of the link in the last email asking a customer's consent."""
    for email in reversed(queued_emails(db)):
        match = re.search(r"https?://[^/\s]+(/consent/(?!withdraw/|receipt/|mine/)\S+)", email.text)
        if match:
            return match.group(1)
    raise AssertionError("no email asks a customer's consent")


def _urls(route: Route, hostile: Hostile) -> Iterator[str]:
    """Every URL of the route the world can fill (each object of each kind)."""
    if route.endpoint in hostile.links:
        yield hostile.links[route.endpoint]
        return
    values: list[dict[str, object]] = [{}]
    for variable in route.variables:
        choices = NON_TENANT_VARIABLES.get(variable) or hostile.world.ids.get(variable)
        assert choices, f"{route}: the hostile world has nothing for <{variable}>"
        values = [{**v, variable: choice} for v in values for choice in choices]
    for value in values:
        yield route.url(value)


def _walk(app: Flask, hostile: Hostile) -> Iterator[tuple[Route, str, Any]]:
    """(route, url, response) for every GET route that shows stored text: the
    public pages as their recipient, the operator's as an operator, the rest
    as the world's owner (pages by browser, the API by key)."""
    for route in all_routes(app):
        if route.method != "GET" or route.endpoint in NO_STORED_TEXT:
            continue
        if route.endpoint in PUBLIC and route.endpoint not in SHOWS_EVERYONES_EMAIL:
            caller = hostile.anonymous
        elif route.is_operator:
            caller = hostile.operator
        else:
            caller = hostile.owner
        for url in _urls(route, hostile):
            response = caller.api("GET", url) if route.is_api else caller.open(url)
            yield route, url, response


def test_every_page_shows_hostile_text_escaped(app: Flask, hostile: Hostile) -> None:
    own_profile = f"/partners/{hostile.world.me.business_id}/propose"  # no proposing to oneself
    problems: list[str] = []
    seen: set[str] = set()
    pages = 0
    for route, url, response in _walk(app, hostile):
        if route.is_api or response.mimetype != "text/html":
            continue
        pages += 1
        if response.status_code >= 400 and url != own_profile:
            problems.append(f"{route} {url}: answered {response.status_code}")
        html = response.get_data(as_text=True)
        # An iframe's srcdoc is a document escaped once more to be an attribute.
        for document in SRCDOC.findall(html):
            problems += html_leaks(f"{route} {url} (framed)", unescape(document))
        html = SRCDOC.sub('srcdoc=""', html)
        problems += html_leaks(f"{route} {url}", html)
        seen |= escaped_fields(html)

    assert not problems, "\n".join(problems)
    assert pages > 60, pages
    # Every field is shown somewhere, so the absence of leaks proves something.
    assert seen == set(FIELD_LENGTHS), f"never shown: {set(FIELD_LENGTHS) - seen}"


def test_the_api_returns_hostile_text_byte_for_byte(app: Flask, hostile: Hostile) -> None:
    problems: list[str] = []
    strings: list[str] = []
    for route, url, response in _walk(app, hostile):
        if not route.is_api:
            continue
        if response.status_code == 404:
            continue  # not this business's to see that way (a lead it sells, say)
        if response.status_code != 200 or response.mimetype != "application/json":
            problems.append(f"{route} {url}: {response.status_code} {response.mimetype}")
            continue
        found = list(_strings(json.loads(response.get_data())))
        problems += [
            f"{route} {url}: HTML-escaped in JSON: {s!r}" for s in found if HTML_ENTITY.search(s)
        ]
        strings += found

    assert not problems, "\n".join(problems)
    shown = {name for name, value in HOSTILE.items() if value in strings}
    assert shown >= {
        "business_name",
        "business_description",
        "customer_name",
        "customer_address",
        "customer_notes",
        "referral_need",
        "preferred_contact_time",
        "lead_need",
        "partnership_message",
        "job_description",
        "api_key_name",
    }, f"not returned whole: {set(FIELD_LENGTHS) - shown}"


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def test_every_email_is_escaped_in_html_unaltered_in_text_with_clean_headers(
    app: Flask, db: Session, hostile: Hostile
) -> None:
    emails = queued_emails(db)
    problems: list[str] = []
    for n, email in enumerate(emails):
        where = f"email {n} to {email.to} ({email.subject!r})"
        for header, value in (("Subject", email.subject), ("To", email.to)):
            if "\r" in value or "\n" in value:
                problems.append(f"{where}: a line break in {header}")
        message = build_message(
            {"to": email.to, "subject": email.subject, "text": email.text, "html": email.html},
            sender="Referral <noreply@referral.example>",
            message_id="<escaping@referral.example>",
        )
        assert message["Subject"] == email.subject
        problems += html_leaks(where, email.html)
        if HTML_ENTITY.search(email.text):
            problems.append(f"{where}: HTML-escaped plain text: {email.text!r}")
        in_html, in_text = escaped_fields(email.html), verbatim_fields([email.text])
        if email.html and not in_html <= in_text:
            problems.append(f"{where}: {in_html - in_text} in the HTML but not the text")

    assert not problems, "\n".join(problems)
    html_seen = set().union(*(escaped_fields(e.html) for e in emails))
    text_seen = verbatim_fields(e.text for e in emails)
    names = {"business_name", "customer_name", "owner_name"}
    assert names <= html_seen, html_seen
    assert names | {"lead_need"} <= text_seen, text_seen
    # Delivered as queued: the outbox keeps the same text.
    assert [e.text for e in sent_emails(db)] == [e.text for e in emails]


def test_hostile_text_is_stored_exactly_as_given(db: Session, hostile: Hostile) -> None:
    for name, columns in STORED_IN.items():
        value = HOSTILE[name]
        stored = {
            v
            for column in columns
            for v in db.exec(select(column).where(col(column).contains(value[:12])))
        }
        assert value in stored, f"{name}: {value!r} not stored"
        assert stored == {value}, f"{name}: stored altered as {stored - {value}}"
    # What a customer agreed to names the need (and in a referral, the
    # business) as written, not as HTML.
    consent_texts = db.exec(select(ConsentRecord.text)).all()
    assert consent_texts
    for text in consent_texts:
        if HOSTILE["referral_need"] in text:
            assert HOSTILE["business_name"] in text, text
        else:
            assert HOSTILE["lead_need"] in text, text


def test_csv_exports_neutralise_formulas(app: Flask, hostile: Hostile) -> None:
    owner = hostile.owner
    months = {"2026-01", _this_month(owner)}
    exports = [f"/analytics/{name}.csv" for name in FIGURES]
    exports += [f"/statements.csv?month={month}" for month in months]
    cells: list[str] = []
    for url in exports:
        response = owner.open(url)
        assert response.status_code == 200, url
        assert response.mimetype == "text/csv", url
        rows = csv.reader(io.StringIO(response.get_data(as_text=True)))
        cells += [cell for row in rows for cell in row]

    runs = [c for c in cells if c.startswith(FORMULA_START) and not NUMBER.fullmatch(c)]
    assert not runs, runs
    # The customers' names are in the customers figure, quoted.
    assert "'" + HOSTILE["customer_name"] in cells


def _this_month(owner: Caller) -> str:
    html = owner.open("/statements").get_data(as_text=True)
    match = re.search(r"\b(20\d\d-\d\d)\b", html)
    assert match, "the statement page names its month"
    return match.group(1)


@pytest.mark.parametrize("cell", FORMULA_CELLS, ids=lambda c: repr(c.given))
def test_a_formula_in_any_exported_text_is_quoted(cell: Any) -> None:
    table = tables.Table("customers", ["Customer", "Lifetime"], [[cell.given, "$1,250.00"]])
    rows = list(csv.reader(io.StringIO(tables.as_csv(table))))
    assert rows[1] == [cell.neutralised, "1250.00"]

    line = statements.StatementLine(
        date=statements.dt.date(2026, 1, 5),
        kind="commission earned",
        reference="commission 1",
        partner=cell.given,
        status="approved",
        amount_cents=-125_000,
    )
    report = statements.Statement(month=statements.dt.date(2026, 1, 1), lines=[line])
    rows = list(csv.reader(io.StringIO(statements.as_csv(report))))
    assert rows[1][3] == cell.neutralised
    assert rows[1][5] == "-1250.00"


@pytest.mark.parametrize(
    ("figure", "exported"),
    [("-3", "-3"), ("-12.5%", "-12.5%"), ("1,204", "1,204"), ("-$1,250.00", "-1250.00")],
)
def test_a_negative_figure_exports_as_a_number_not_as_quoted_text(
    figure: str, exported: str
) -> None:
    table = tables.Table("partners", ["Partner", "Net"], [["Drip Plumbing", figure]])
    rows = list(csv.reader(io.StringIO(tables.as_csv(table))))
    assert rows[1][1] == exported
