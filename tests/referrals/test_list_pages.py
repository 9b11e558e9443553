"""A long list of referrals goes on over pages: "Older referrals" leads to
the next, with the filters kept in the URL, and nothing is silently cut."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from sqlmodel import Session

from referral.auth.models import User
from referral.referrals import views
from tests.support.factories import accepted_referral, business, partner_up, percent, sign_in

ROW = re.compile(r'href="/referrals/(\d+)"')


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
    older = re.search(r'<a href="([^"]+)">Older referrals</a>', first)
    assert older is not None and "status=accepted" in older.group(1)
    assert "Newest referrals" not in first

    second = browser.get(older.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert [int(i) for i in ROW.findall(second)] == [ids[0]]
    assert "Older referrals" not in second and "Newest referrals" in second
