"""Two businesses, each in its own browser, go from discovery to an agreed partnership."""

from __future__ import annotations

from flask import Flask
from playwright.sync_api import expect
from sqlmodel import Session

from tests.support.browser import ARTIFACTS, sign_in_page
from tests.support.factories import make_business, make_user


def test_discovery_counter_proposal_and_acceptance_in_two_browsers(
    app: Flask, db: Session, browser, live_server
) -> None:  # type: ignore[no-untyped-def]
    hvac = make_business(db, name="Cool Air HVAC", trade="hvac", zip_code="78701")
    make_user(db, hvac, email="alex@coolair.example", name="Alex")
    plumber = make_business(db, name="Drip Plumbing", trade="plumbing", zip_code="78704")
    make_user(db, plumber, email="blair@drip.example", name="Blair")
    make_business(db, name="Rival HVAC", trade="hvac", zip_code="78702")

    alex_context, alex = sign_in_page(browser, live_server, "alex@coolair.example")
    blair_context, blair = sign_in_page(browser, live_server, "blair@drip.example")
    try:
        alex.click("text=Find partners")
        row = alex.locator("tr", has_text="Drip Plumbing")
        expect(row).to_be_visible()  # the partner search has loaded
        expect(alex.locator("main")).not_to_contain_text("Rival HVAC")
        row.locator("text=Propose").click()
        # The fee field is hidden until its basis is chosen.
        alex.wait_for_selector("#i_refer_to_them-flat_fee", state="hidden")
        alex.select_option("#i_refer_to_them-basis", "flat_per_won")
        alex.fill("#i_refer_to_them-flat_fee", "150")
        alex.fill("#message", "HVAC and plumbing customers overlap a lot")
        alex.click("text=Send proposal")
        alex.wait_for_selector("text=Proposal sent to Drip Plumbing")

        blair.click("text=Notifications")
        blair.click("text=Cool Air HVAC proposed a partnership")
        expect(blair.locator("text=$150.00 per won job").first).to_be_visible()
        blair.click("text=Counter-propose")
        blair.fill("#they_refer_to_me-flat_fee", "175")
        blair.click("text=Send counter-proposal")
        blair.wait_for_selector("text=Counter-proposal sent.")

        alex.goto("/partnerships")
        alex.click("text=Drip Plumbing")
        expect(alex.locator("text=$175.00 per won job").first).to_be_visible()
        alex.click("button:has-text('Accept')")
        alex.wait_for_selector("text=Terms accepted.")
        ARTIFACTS.mkdir(exist_ok=True)
        alex.screenshot(path=str(ARTIFACTS / "partnership-agreed.png"), full_page=True)

        blair.reload()
        for page in (alex, blair):
            assert page.inner_text("#partnership-status") == "Active"
            expect(page.locator("text=Version 1").first).to_be_visible()
            expect(page.locator("text=$175.00 per won job").first).to_be_visible()
    finally:
        alex_context.close()
        blair_context.close()
