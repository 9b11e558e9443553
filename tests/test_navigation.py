"""The navigation on every page: one link per section, the current one marked,
each link under the path the app is served from."""

from __future__ import annotations

import re

from flask import Flask
from sqlmodel import Session

from tests.support.factories import make_business, make_user, sign_in

NAV_LINK = re.compile(r'<a href="([^"]+)"( aria-current="page")?>Partnerships<')


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
