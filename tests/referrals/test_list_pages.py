"""A long list of referrals goes on over pages, "Next" and "Previous" with
where the page is and how many there are, sorted by the column asked for,
the sort and filters kept in the URL; nothing is silently cut."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from sqlmodel import Session

from referral.auth.models import User
from referral.referrals import views
from tests.support.factories import accepted_referral, business, partner_up, percent, sign_in

ROW = re.compile(r'href="/referrals/(\d+)"')


def _link(html: str, text: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" rel="\w+">{text}</a>', html)
    return found.group(1).replace("&amp;", "&") if found else None


def test_older_referrals_are_a_page_away(
    app: Flask, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "LIMIT", 2)
    hvac = business(db, "Pages HVAC", "hvac", "78701", "pages@hvac.example")
    plumber = business(db, "Pages Plumbing", "plumbing", "78704", "pages@plumbing.example")
    with app.app_context():
        partner_up(db, hvac, plumber, a_pays=percent(1000), b_pays=percent(1000))
        ids = [accepted_referral(db, hvac, plumber).id for _ in range(3)]
    browser = sign_in(app, db.get(User, hvac.user_id))

    first = browser.get("/referrals/outbox?status=accepted").get_data(as_text=True)
    assert [int(i) for i in ROW.findall(first)] == [ids[2], ids[1]]
    assert "1–2 of 3 referrals" in first and "page 1 of 2" in first
    following = _link(first, "Next")
    assert following is not None and "status=accepted" in following
    assert _link(first, "Previous") is None

    second = browser.get(following).get_data(as_text=True)
    assert [int(i) for i in ROW.findall(second)] == [ids[0]]
    assert "3–3 of 3 referrals" in second
    assert _link(second, "Next") is None and _link(second, "Previous") is not None

    oldest_first = browser.get("/referrals/outbox?status=accepted&sort=date").get_data(as_text=True)
    assert [int(i) for i in ROW.findall(oldest_first)] == [ids[0], ids[1]]
    following = _link(oldest_first, "Next")
    assert following is not None and "sort=date" in following and "status=accepted" in following


def test_an_unknown_sort_or_page_is_ignored(app: Flask, db: Session) -> None:
    hvac = business(db, "Sorts HVAC", "hvac", "78701", "sorts@hvac.example")
    browser = sign_in(app, db.get(User, hvac.user_id))

    for url in (
        "/referrals/outbox?sort=password",
        "/referrals/inbox?sort=-",
        "/referrals/inbox?page=-3",
        "/referrals/outbox?page=abc&sort=value",
    ):
        assert browser.get(url).status_code == 200, url
