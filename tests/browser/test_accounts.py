"""A newcomer signs up, confirms their email from the outbox (which signs them
in), logs out and in, edits the profile and creates an API key, all in a real
browser."""

from __future__ import annotations

import re

from flask import Flask
from playwright.sync_api import expect

from tests.support.browser import ARTIFACTS


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_sign_up_verify_log_out_log_in_edit_profile_and_create_an_api_key(
    app: Flask, page, live_server, job_worker
) -> None:  # type: ignore[no-untyped-def]
    page.goto("/")
    page.click("text=Sign up your business")
    page.fill("#business_name", "Sunny Solar")
    page.select_option("#trade", "solar")
    page.fill("#zip_code", "78701")
    page.fill("#radius_miles", "30")
    page.fill("#name", "Sam Sun")
    page.fill("#email", "sam@sunny.example")
    page.fill("#password", "short")
    page.click("text=Create account")
    expect(page.locator("text=Use 10 to 128 characters.").first).to_be_visible()
    page.fill("#password", "a long enough password")
    page.click("text=Create account")
    page.wait_for_selector("text=Check your email")  # the same page for a taken address
    shot(page, "signed-up")

    page.click("text=Outbox")
    page.wait_for_selector("text=Confirm your email address for Referral", timeout=15_000)
    page.click("text=Confirm your email address for Referral")
    page.click(f"a[href^='{live_server.url}/verify/']")
    page.wait_for_selector("text=your email address is confirmed")  # and signed in
    expect(page.locator("text=Please verify your email address").first).to_be_hidden()

    page.click("text=Log out")
    page.wait_for_selector("text=You are logged out.")
    page.click("text=Log in")
    page.fill("#email", "sam@sunny.example")
    page.fill("#password", "the wrong password")
    page.click("form button[type=submit]")
    expect(page.locator("text=Email or password is incorrect.").first).to_be_visible()
    page.fill("#password", "a long enough password")
    page.click("form button[type=submit]")
    page.wait_for_selector("h1:has-text('Sunny Solar')")

    page.click("text=Profile")
    page.fill("#zip_code", "99999")
    page.click("text=Save profile")
    expect(page.locator("text=Unknown ZIP code").first).to_be_visible()
    page.fill("#zip_code", "78745")
    page.fill("#phone", "512 555 0123")
    page.fill("#description", "Panels, batteries and repairs.")
    page.click("text=Save profile")
    page.wait_for_selector("text=Profile saved.")
    assert page.input_value("#phone") == "+15125550123"
    shot(page, "profile")

    page.goto("/")
    page.click("text=API keys")
    page.fill("#name", "CRM sync")
    page.click("text=Create key")
    secret = page.inner_text("#new-key-secret").strip()
    assert re.fullmatch(r"rk_live_[0-9a-f]{8}_[\w-]+", secret)
    shot(page, "api-key")
    me = page.request.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.ok and me.json()["business"]["name"] == "Sunny Solar"
    page.reload()
    assert secret not in page.content()  # shown once


def test_the_api_docs_render_without_a_cdn(page, live_server) -> None:  # type: ignore[no-untyped-def]
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto("/api/v1/docs")
    page.wait_for_selector("text=Referral API")
    page.wait_for_selector(".opblock")
    paths = page.locator(".opblock-summary-path").all_inner_texts()

    assert any(p.replace("\u200b", "") == "/api/v1/me" for p in paths), paths

    assert all(url.startswith(live_server.url) for url in requested), requested
