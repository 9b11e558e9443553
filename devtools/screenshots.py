"""Screenshots of the main pages at phone and desktop width, from a running
demo (`python3 dev.py start`), for reviews and the README.

    .venv/bin/python -m devtools.screenshots [--base-url URL] [--out docs/screenshots]

It signs in as the demo's Lone Star Comfort Air, refers its first customer to
Barton Creek Plumbing with her consent recorded as given by phone (so the
partner's inbox has something in it), and photographs the dashboard, the
partner's inbox, the referral's page and the payments page at 390x844 and
1280x900. Debian's chromium drives it (Playwright's own browser is not used).
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

PASSWORD = "referral-demo-2026"
LONE_STAR = "owner@lone-star-comfort-air.example"
BARTON_CREEK = "owner@barton-creek-plumbing.example"
WIDTHS = {"phone": (390, 844), "desktop": (1280, 900)}


def sign_in(page: Page, base: str, email: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/login" not in url)


def refer_a_customer(page: Page, base: str) -> str:
    """Lone Star refers its first customer to Barton Creek (consent by phone, today);
    the referral's URL."""
    sign_in(page, base, LONE_STAR)
    page.goto(f"{base}/referrals/new")
    page.select_option("#partner_id", label="Barton Creek Plumbing")
    page.select_option("#customer_id", index=1)
    page.fill("#need", "Water heater leaking in the garage; wants a replacement quote.")
    page.select_option("#urgency", index=1)
    page.select_option("#consent_method", value="attested_phone")
    page.fill("#attested_on", dt.date.today().isoformat())
    page.get_by_role("button", name="Send referral").click()
    page.wait_for_url(lambda url: "/referrals/" in url and not url.endswith("/new"))
    return page.url


def shoot(page: Page, url: str, out: Path, name: str) -> list[Path]:
    shots = []
    for label, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.goto(url)
        page.wait_for_load_state("networkidle")
        path = out / f"{name}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        shots.append(path)
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:5000")
    parser.add_argument("--out", default="docs/screenshots", type=Path)
    args = parser.parse_args()
    base = args.base_url.rstrip("/")
    args.out.mkdir(parents=True, exist_ok=True)
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
        page = browser.new_page()
        referral_url = refer_a_customer(page, base)
        taken = shoot(page, f"{base}/analytics", args.out, "dashboard")
        taken += shoot(page, referral_url, args.out, "referral")
        taken += shoot(page, f"{base}/payments", args.out, "payments")
        sign_in(page, base, BARTON_CREEK)
        taken += shoot(page, f"{base}/referrals/inbox", args.out, "inbox")
        browser.close()
    for path in taken:
        print(path)


if __name__ == "__main__":
    main()
