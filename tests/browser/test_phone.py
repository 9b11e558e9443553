"""Every signed-in page on a phone (390x844, an iPhone 14): nothing wider than
the screen, every primary action button within reach, the navigation folded
into a menu; and on a desktop (1280 px) the navigation on one row.

The world is the sweeps' (tests/support/world.py): business B with referrals
both ways in every state, commissions, a settlement, leads sold and bought,
plus a customer and a partner whose 120-character names have no space to
break at. B's owner is the operator too, so the operator's pages are visited.
Layout does not depend on the database: this runs on SQLite only."""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import expect
from sqlmodel import Session

from tests.support.pages import log_in, page_world, signed_in_pages
from tests.support.world import World

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

# The page's own measurements: its width, and primary action buttons that
# stick out of the screen (those inside a closed menu or <details> are hidden).
MEASURE = """() => {
  const width = window.innerWidth;
  const outside = [];
  for (const el of document.querySelectorAll(
      "main button[type=submit]:not(.secondary):not(.link), main .button:not(.secondary)")) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (box.left < 0 || box.right > width) outside.push(el.textContent.trim() + " at " + box.right);
  }
  return {scroll: document.documentElement.scrollWidth, width, outside};
}"""


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def world(app: Flask, db: Session) -> World:
    return page_world(app, db, long_names=True)


def test_every_signed_in_page_fits_a_phone(app: Flask, world: World, browser, live_server):  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=live_server.url, viewport=PHONE)
    page = context.new_page()
    log_in(page, world.b.owner.email)
    failures = []
    urls = signed_in_pages(app, world)
    for url in urls:
        response = page.goto(url)
        assert response is not None
        if response.status != 200:
            continue
        found = page.evaluate(MEASURE)
        if found["scroll"] > found["width"]:
            failures.append(f"{url}: {found['scroll']} px wide on a {found['width']} px screen")
        failures += [f"{url}: {button} px, off the screen" for button in found["outside"]]
    context.close()
    assert not failures, "\n".join(failures)
    assert len(urls) > 50, urls


def test_the_navigation_is_a_menu_on_a_phone_and_one_row_on_a_desktop(  # type: ignore[no-untyped-def]
    world: World, browser, live_server
):
    context = browser.new_context(base_url=live_server.url, viewport=PHONE)
    page = context.new_page()
    log_in(page, world.b.owner.email)
    navigation = page.get_by_role("navigation", name="Main")
    expect(navigation).to_be_hidden()
    page.get_by_role("button", name="Menu").click()
    expect(navigation.get_by_role("link", name="Payments")).to_be_visible()
    navigation.get_by_role("link", name="Payments").click()
    expect(page.get_by_role("heading", name="Payments", exact=True)).to_be_visible()
    expect(navigation).to_be_hidden()

    page.set_viewport_size(DESKTOP)
    expect(navigation).to_be_visible()
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    tops = navigation.get_by_role("link").evaluate_all(
        "links => links.map(link => Math.round(link.getBoundingClientRect().top))"
    )
    assert len(tops) == 13 and len(set(tops)) == 1, tops  # the operator's link included
    current = navigation.locator("[aria-current=page]")
    expect(current).to_have_text("Payments")
    context.close()
