"""Owners signing in in a real browser, and where browser tests leave screenshots."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from tests.support.factories import PASSWORD

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
HVAC_EMAIL = "alex@coolair.example"
PLUMBER_EMAIL = "blair@drip.example"


def log_in(page, email: str) -> None:  # type: ignore[no-untyped-def]
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("form button[type=submit]")
    expect(page.locator(".who")).to_be_visible()


# How long a browser action may wait. Generous: on CI two workers share two
# cores with PostgreSQL and another Chromium, and a page that loads in 200 ms
# alone has taken over 10 s there; a real hang still fails.
ACTION_TIMEOUT_MS = 30_000


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in_page(browser, live_server, email: str):  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    page = context.new_page()
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(live_server.url + "/")
    return context, page
