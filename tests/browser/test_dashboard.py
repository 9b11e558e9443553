"""A business owner opens the dashboard in a real browser: the funnel, the
partner ranking, the monthly trends and customer lifetime value, each a chart
beside its table, and downloads a figure as CSV."""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import expect
from sqlmodel import Session

from tests.support.browser import ARTIFACTS, log_in
from tests.support.history import History, build_history


@pytest.fixture
def history(app: Flask, db: Session) -> History:
    with app.app_context():
        return build_history(db)


def test_the_owner_sees_what_each_partnership_is_worth(page, history, live_server):
    log_in(page, "alex@coolair.example")

    page.get_by_role("link", name="Dashboard", exact=True).click()

    expect(page.get_by_role("heading", name="What your partnerships are worth")).to_be_visible()
    for name in ("Referral funnel", "Partners ranked by value to you", "Referrals by month"):
        expect(page.get_by_role("img", name=name)).to_be_visible()
    funnel = page.locator("#figure-funnel table")
    expect(funnel.get_by_role("row", name="Customer consented 5 83.3%")).to_be_visible()
    ranking = page.locator("#figure-partners table tbody tr").first
    expect(ranking).to_contain_text("Drip Plumbing")
    expect(page.locator("#leak")).to_contain_text("Job won")
    expect(page.locator("#figure-customers")).to_contain_text("Ana Diaz")
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    with page.expect_download() as download:
        page.locator("#figure-partners").get_by_role("link", name="Download CSV").click()
    assert download.value.suggested_filename == "partners.csv"

    page.select_option("#direction", "received")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#headline")).to_contain_text("Referrals received")
