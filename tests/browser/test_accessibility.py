"""axe-core (shipped inside the axe-playwright-python package, so nothing is
fetched at run time) audits one page of every kind, signed in as a business
with a full world of data (tests/support/world.py) and signed out: no serious
or critical violation. Runs on SQLite only: markup does not depend on the
database."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from playwright.sync_api import Page
from sqlmodel import Session

from tests.support.pages import log_in, page_world, signed_in_pages
from tests.support.routes import PUBLIC, all_routes, public_url
from tests.support.world import World

SEVERE = {"serious", "critical"}
# The API reference is swagger-ui's own page, not ours.
NOT_AUDITED = {"docs.swagger_ui"}


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def world(app: Flask, db: Session) -> World:
    return page_world(app, db)


def _one_of_each_kind(urls: list[str]) -> list[str]:
    """The first URL of each path shape (/referrals/1 and /referrals/2 are one kind)."""
    kinds: dict[str, str] = {}
    for url in urls:
        kind = "/".join("#" if part.isdigit() else part for part in url.split("/"))
        kinds.setdefault(kind, url)
    return list(kinds.values())


def _audit(axe: Axe, page: Page, url: str) -> list[str]:
    response = page.goto(url)
    assert response is not None and response.status < 500, url
    results = axe.run(page).response
    return [
        f"{url}: {violation['id']} ({violation['impact']}): {violation['help']} at "
        + ", ".join(str(node["target"]) for node in violation["nodes"][:3])
        for violation in results["violations"]
        if violation["impact"] in SEVERE
    ]


def test_no_page_has_a_serious_accessibility_violation(  # type: ignore[no-untyped-def]
    app: Flask, world: World, browser, live_server
):
    axe = Axe()
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    failures = []
    public = [
        public_url(route, world)
        for route in all_routes(app)
        if route.method == "GET"
        and route.endpoint in PUBLIC
        and route.endpoint not in NOT_AUDITED
        and route.endpoint not in ("static", "docs.swagger_asset", "api-docs.openapi_json")
        and route.endpoint not in ("home.health", "auth.verify")
    ]
    for url in public:
        failures += _audit(axe, page, url)

    log_in(page, world.b.owner.email)
    urls = _one_of_each_kind(signed_in_pages(app, world))
    for url in urls:
        failures += _audit(axe, page, url)
    context.close()
    assert not failures, "\n".join(failures)
    assert len(urls) > 35, urls
