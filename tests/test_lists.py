"""Every list page goes on over pages instead of stopping silently: where the
page is, how many rows there are in all, "Next" and "Previous", the columns
people sort by, the sort and the filters kept in the URL, an unknown sort or
page ignored rather than an error, and as many SQL statements for a page
whatever the number of rows (tests/test_statement_budgets.py counts them the
same way)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import Flask
from sqlmodel import Session

from referral import listing
from referral.audit.models import AuditEvent
from referral.auth.models import User
from referral.businesses.actor import Actor
from referral.db import utcnow
from referral.leads.models import LeadPurchase, PurchaseStatus
from referral.notifications.models import Notification
from referral.referrals import views as referral_pages
from referral.settlements.models import Settlement, SettlementStatus
from tests.support.factories import business, partner_up, percent, sign_in, won_referral
from tests.support.statements import statements
from tests.support.world import WorldBuilder

PER_PAGE = 2
# Each list page, with the argument names of its page and sort.
LISTS = {
    "/referrals/outbox": ("page", "sort"),
    "/referrals/inbox": ("page", "sort"),
    "/commissions": ("earned_page", "earned_sort"),
    "/commissions?earned_sort=partner": ("owed_page", "owed_sort"),
    "/settlements": ("page", "sort"),
    "/leads/mine": ("page", "sort"),
    "/leads/purchases": ("page", "sort"),
    "/audit": ("page", "sort"),
    "/notifications": ("page", "sort"),
    "/partnerships": ("page", "sort"),
    "/customers?q=customer": ("page", "sort"),
}


@pytest.fixture(autouse=True)
def short_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listing, "PER_PAGE", PER_PAGE)
    monkeypatch.setattr(referral_pages, "LIMIT", PER_PAGE)


class Rows:
    """Adds n more rows to every list of `me`, written through the services
    where they are quick, else as the rows they write."""

    def __init__(self, app: Flask, db: Session) -> None:
        self.app, self.db = app, db
        self.build = WorldBuilder(db)
        self.me = business(db, "Lists HVAC", "hvac", "78701", "owner@lists.example")
        self.n = 0

    def add(self, n: int) -> None:
        db, me, build = self.db, self.me, self.build
        with self.app.app_context():
            for _ in range(n):
                self.n += 1
                partner = business(
                    db, f"Partner {self.n}", "plumbing", "78704", f"p{self.n}@lists.example"
                )
                partnership = partner_up(
                    db, me, partner, a_pays=percent(1000), b_pays=percent(1000)
                )
                won_referral(db, me, partner, 10_000 * self.n)  # sent, and a commission earned
                won_referral(db, partner, me, 20_000 * self.n)  # received, a commission owed
                if self.n == 1:
                    build.ready_to_sell(me)
                build.offer_lead(me, partner.business.trade_id)
                build.ready_to_sell(partner)
                bought = build.offer_lead(partner, me.business.trade_id)
                self._rows(partnership.id, partner, bought.id)
            db.commit()

    def _rows(self, partnership_id: int | None, partner: Actor, lead_id: int | None) -> None:
        db, me = self.db, self.me
        assert partnership_id is not None and lead_id is not None
        db.add(
            Settlement(
                partnership_id=partnership_id,
                debtor_id=me.business_id,
                creditor_id=partner.business_id,
                currency="USD",
                debtor_owed_cents=self.n * 100,
                creditor_owed_cents=0,
                net_cents=self.n * 100,
                platform_fee_cents=0,
                status=SettlementStatus.PAID,
            )
        )
        db.add(
            LeadPurchase(
                lead_id=lead_id,
                buyer_id=me.business_id,
                buyer_user_id=me.user_id,
                price_cents=5_000,
                platform_fee_cents=500,
                method="checkout",
                status=PurchaseStatus.PAID,
                reserved_until=utcnow() + dt.timedelta(minutes=15),
                paid_at=utcnow(),
            )
        )
        db.add(
            AuditEvent(
                owner_business_id=me.business_id,
                actor_business_id=partner.business_id,
                action="viewed_contact",
                subject=f"customer:{self.n}",
            )
        )
        db.add(Notification(business_id=me.business_id, kind="test", title=f"Note {self.n}"))


@pytest.fixture
def rows(app: Flask, db: Session) -> Rows:
    return Rows(app, db)


def _link(html: str, rel: str, page_arg: str = "page") -> str | None:
    """The list's link to its next or previous page (`rel`), by its page argument."""
    for found in re.findall(rf'<a href="([^"]+)" rel="{rel}">', html):
        url = found.replace("&amp;", "&")
        if rel == "prev" or re.search(rf"[?&]{page_arg}=", url):
            return str(url)
    return None


def _count(app: Flask, browser, url: str) -> int:  # type: ignore[no-untyped-def]
    browser.get(url)  # warm
    with statements(app) as sent:
        response = browser.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(sent)


def test_every_list_goes_on_over_pages_with_its_sort_and_filters_kept(
    app: Flask, db: Session, rows: Rows
) -> None:
    rows.add(3)
    browser = sign_in(app, db.get(User, rows.me.user_id))

    for url, (page_arg, sort_arg) in LISTS.items():
        first = browser.get(url).get_data(as_text=True)
        assert re.search(r"1–2 of \d+ \w+", first), url
        following = _link(first, "next", page_arg)
        assert following is not None, url
        assert f"{page_arg}=2" in following, (url, following)
        if "?" in url:  # the other list's sort stays
            assert url.split("?")[1] in following, (url, following)
        second = browser.get(following).get_data(as_text=True)
        assert _link(second, "prev") is not None, url

        sorted_url = f"{url}{'&' if '?' in url else '?'}{sort_arg}=-date"
        newest_first = browser.get(sorted_url).get_data(as_text=True)
        assert re.search(r'aria-sort="descending"|aria-current="true">[^<]+ ▼', newest_first), url
        following = _link(newest_first, "next", page_arg)
        assert following is not None and f"{sort_arg}=-date" in following, (url, following)


def test_an_unknown_sort_or_page_is_ignored_not_an_error(
    app: Flask, db: Session, rows: Rows
) -> None:
    rows.add(1)
    browser = sign_in(app, db.get(User, rows.me.user_id))

    for url, (page_arg, sort_arg) in LISTS.items():
        glue = "&" if "?" in url else "?"
        for query in (f"{sort_arg}=password", f"{sort_arg}=-", f"{page_arg}=x", f"{page_arg}=999"):
            response = browser.get(f"{url}{glue}{query}")
            assert response.status_code == 200, (url, query, response.status_code)


def test_a_list_page_sends_as_many_statements_however_many_rows(
    app: Flask, db: Session, rows: Rows
) -> None:
    rows.add(3)
    browser = sign_in(app, db.get(User, rows.me.user_id))
    few = {url: _count(app, browser, url) for url in LISTS}

    rows.add(4)
    many = {url: _count(app, browser, url) for url in LISTS}

    assert many == few
