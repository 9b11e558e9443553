"""Browser tests: the real app served over HTTP on loopback, driven by Debian's
chromium through Playwright (Playwright's own browser download is not used).

Screenshots of failing tests land in test-artifacts/.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from flask import Flask

from tests.support.app import REQUIRE_BROWSER
from tests.support.browser import ACTION_TIMEOUT_MS, ARTIFACTS
from tests.support.browser_stripe import CONNECT_WEBHOOK_SECRET, WEBHOOK_SECRET
from tests.support.live_server import LiveServer, worker_thread
from tests.support.stripe_standin import StripeStandIn

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    executable = chromium_path()
    if executable is None:
        message = "Debian's chromium is not installed (apt-get install chromium)"
        if REQUIRE_BROWSER:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    with LiveServer(app) as server:
        yield server


@pytest.fixture
def job_worker(app: Flask) -> Iterator[None]:
    """A job worker thread beside the live server, as `referral up` runs one."""
    with worker_thread(app, poll_interval=0.1):
        yield


@pytest.fixture
def page(browser, live_server: LiveServer, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """A fresh browser context per test; failing tests leave a screenshot."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []

    def on_console(message) -> None:  # type: ignore[no-untyped-def]
        # A 4xx answer to a bad form is expected; CSP violations and script errors are not.
        expected = message.text.startswith("Failed to load resource: the server responded")
        if message.type == "error" and not (expected and " 4" in message.text):
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()
    # A CSP violation or script error in the page is a defect.
    assert errors == [], errors


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]


@pytest.fixture
def open_page(browser, live_server: LiveServer, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Open more browsers: each call gives a page in a fresh context (a second
    user beside `page`), watched for console errors and screenshotted on failure
    like `page`."""
    pages = []
    errors: list[str] = []

    def on_console(message) -> None:  # type: ignore[no-untyped-def]
        expected = message.text.startswith("Failed to load resource: the server responded")
        if message.type == "error" and not (expected and " 4" in message.text):
            errors.append(message.text)

    def open_() -> object:
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": 1280, "height": 900}
        )
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        new_page = context.new_page()
        new_page.on("console", on_console)
        new_page.on("pageerror", lambda exc: errors.append(str(exc)))
        pages.append(new_page)
        return new_page

    yield open_
    report = getattr(request.node, "rep_call", None)
    for number, opened in enumerate(pages, start=2):
        if report is not None and report.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            path = ARTIFACTS / f"{request.node.name}-{number}.png"
            opened.screenshot(path=str(path), full_page=True)
        opened.context.close()
    assert errors == [], errors


@pytest.fixture
def stripe(standin: StripeStandIn, live_server: LiveServer, job_worker) -> Iterator[StripeStandIn]:  # type: ignore[no-untyped-def]
    """The stand-in, fresh, posting its signed webhooks to the live app."""
    standin.send_webhooks_to(
        f"{live_server.url}/stripe/webhook",
        WEBHOOK_SECRET,
        connect_url=f"{live_server.url}/stripe/webhook/connect",
        connect_secret=CONNECT_WEBHOOK_SECRET,
    )
    yield standin
    standin.send_webhooks_to(None)
