"""The navigation on every page: one link per section, the current one marked,
each link under the path the app is served from."""

from __future__ import annotations

import re

import pytest
from flask import Flask, url_for
from sqlmodel import Session

from referral.navigation import OPERATOR, SECTIONS, navigation
from tests.support.factories import make_business, make_user, sign_in

NAV_LINK = re.compile(r'<a href="([^"]+)"( aria-current="page")?>Partnerships<')
STYLESHEET = re.compile(r'<link rel="stylesheet" href="([^"]+)">')


def test_the_section_links_follow_the_path_the_app_is_served_from(app: Flask, db: Session) -> None:
    owner = make_user(db, make_business(db, name="Cool Air HVAC"))
    browser = sign_in(app, owner)

    at_root = NAV_LINK.search(browser.get("/partnerships").get_data(as_text=True))
    mounted = browser.get("/partnerships", base_url="http://localhost/referral/")
    under_a_path = NAV_LINK.search(mounted.get_data(as_text=True))
    again_at_root = NAV_LINK.search(browser.get("/").get_data(as_text=True))

    assert at_root is not None and at_root.groups() == ("/partnerships", ' aria-current="page"')
    assert under_a_path is not None and under_a_path.group(1) == "/referral/partnerships"
    assert again_at_root is not None and again_at_root.groups() == ("/partnerships", None)


def test_the_stylesheet_follows_the_path_the_app_is_served_from(app: Flask, db: Session) -> None:
    client = app.test_client()

    at_root = STYLESHEET.search(client.get("/login").get_data(as_text=True))
    mounted = client.get("/login", base_url="http://localhost/referral/").get_data(as_text=True)
    under_a_path = STYLESHEET.search(mounted)

    assert at_root is not None and at_root.group(1) == "/static/css/app.css"
    assert under_a_path is not None and under_a_path.group(1) == "/referral/static/css/app.css"


@pytest.mark.parametrize(
    ("endpoint", "current"),
    [
        ("home.index", "Dashboard"),
        ("analytics.dashboard", "Dashboard"),
        ("partnerships.discover", "Find partners"),
        ("partnerships.index", "Partnerships"),
        ("customers.index", "Customers"),
        ("referrals.inbox", "Received"),
        ("referrals.outbox", "Sent"),
        ("notifications.index", "Notifications"),
        ("leads.market", "Leads"),
        ("settlements.index", "Payments"),
        ("leads.operator", "Operator"),
        ("settlements.operator", "Operator"),
    ],
)
def test_each_page_marks_its_own_section_and_no_other(
    app: Flask, endpoint: str, current: str
) -> None:
    with app.test_request_context():
        path = url_for(endpoint)
    with app.test_request_context(path):
        links = navigation(operator=True)

    assert [link.label for link in links if link.current] == [current]


def test_every_section_links_a_page_of_the_app(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    with app.test_request_context("/"):
        assert [link.label for link in navigation(operator=False)][-1] == "Payments"
        operator_links = navigation(operator=True)
    assert operator_links[-1].label == "Operator"
    assert {section.endpoint for section in (*SECTIONS, OPERATOR)} <= endpoints
