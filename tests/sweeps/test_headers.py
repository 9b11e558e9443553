"""Every response of every route, error pages included, carries the security
headers, and every cookie the app sets is HttpOnly, SameSite=Lax and (when
configured) Secure.

The sweep asks every route over HTTPS as an anonymous browser, as business A
(with B's objects: mostly 404s) and as B itself (its own pages, CSVs and API
answers), then provokes each kind of error: 400 (CSRF), 404, 405, 413, 429
and 500 (a route registered here that raises).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlmodel import Session

from tests.support.app import make_test_app
from tests.support.factories import PASSWORD
from tests.support.routes import PUBLIC, Caller, Route, all_routes, fillings, public_url
from tests.support.world import World, build_world

HTTPS = "https://localhost"
ONE_YEAR = 365 * 24 * 3600
REFERRER_POLICIES = {
    "no-referrer",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
}
# A script element without a src attribute: the CSP would block it.
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
MAX_BODY = 64 * 1024
# Not sent signed in: they would call Stripe (here, nothing listens), or end
# the session the sweep goes on using (logging out is sent last).
NOT_SENT_SIGNED_IN = {"payments.card", "payments.connect", "auth.logout"}


@pytest.fixture
def app_overrides() -> dict[str, object]:
    return {
        "SESSION_COOKIE_SECURE": True,
        "LOGIN_RATE_LIMIT": "8 per minute",
        "MAX_CONTENT_LENGTH": MAX_BODY,
    }


@pytest.fixture(autouse=True)
def crashing_routes(app: Flask) -> None:
    """A page and an API path with a bug, registered before the first request."""

    def crash() -> str:
        raise RuntimeError("a bug the error page must not show")

    app.add_url_rule("/_sweep/crash", "sweep_crash_page", crash)
    app.add_url_rule("/api/v1/_sweep/crash", "sweep_crash_api", crash)


def header_problems(response: Any, *, https: bool = True, secure_cookies: bool = True) -> list[str]:
    """What is missing or wrong in a response's security headers and cookies."""
    headers = response.headers
    problems = []
    csp = _directives(headers.get("Content-Security-Policy", ""))
    scripts = csp.get("script-src", csp.get("default-src"))
    if not csp:
        problems.append("no Content-Security-Policy")
    elif scripts is None or "'unsafe-inline'" in scripts or "*" in scripts:
        problems.append(f"the CSP allows inline or any script: {scripts}")
    if headers.get("X-Content-Type-Options") != "nosniff":
        problems.append("no X-Content-Type-Options: nosniff")
    frame_ancestors = csp.get("frame-ancestors", ["'none'"])
    if headers.get("X-Frame-Options") != "DENY" or frame_ancestors != ["'none'"]:
        problems.append(f"framing allowed: {headers.get('X-Frame-Options')}, {frame_ancestors}")
    if headers.get("Referrer-Policy") not in REFERRER_POLICIES:
        problems.append(f"Referrer-Policy {headers.get('Referrer-Policy')}")
    hsts = headers.get("Strict-Transport-Security", "")
    max_age = re.match(r"max-age=(\d+)", hsts)
    if https and (max_age is None or int(max_age.group(1)) < ONE_YEAR):
        problems.append(f"no HSTS for a year over HTTPS: {hsts!r}")
    if not https and hsts:
        problems.append("HSTS over plain HTTP")
    for cookie in headers.getlist("Set-Cookie"):
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        wanted = {"httponly", "samesite=lax"} | ({"secure"} if secure_cookies else set())
        if not wanted <= flags or (not secure_cookies and "secure" in flags):
            problems.append(f"cookie flags {sorted(flags)}, wanted {sorted(wanted)}")
    if response.mimetype == "text/html":
        inline = INLINE_SCRIPT.search(response.get_data(as_text=True))
        if inline:
            problems.append(f"inline script in the page: {inline.group(0)}")
    return problems


def _directives(csp: str) -> dict[str, list[str]]:
    parts = (directive.split() for directive in csp.split(";"))
    return {words[0].lower(): words[1:] for words in parts if words}


class Audit:
    """Every response seen, checked; failures and statuses kept for the end."""

    def __init__(self) -> None:
        self.failures: list[str] = []
        self.statuses: set[int] = set()
        self.cookies = 0
        self.responses = 0

    def see(self, where: str, response: Any, *, crash: bool = False) -> Any:
        """`crash`: the request went to a route that raises; any other 500 is a bug."""
        self.responses += 1
        self.statuses.add(response.status_code)
        if (response.status_code >= 500) != crash:
            self.failures.append(f"{where}: answered {response.status_code}")
        if crash and "must not show" in response.get_data(as_text=True):
            self.failures.append(f"{where}: the error page shows the exception")
        self.cookies += len(response.headers.getlist("Set-Cookie"))
        self.failures += [
            f"{where} ({response.status_code}): {p}" for p in header_problems(response)
        ]
        return response


def _urls(route: Route, world: World) -> Iterator[str]:
    if route.endpoint in PUBLIC:
        yield public_url(route, world)
    else:
        yield from (url for _, url in fillings(route, world))


def test_every_response_carries_the_security_headers(app: Flask, db: Session) -> None:
    world = build_world(app, db)
    audit = Audit()
    anonymous = Caller(app.test_client(), base_url=HTTPS)
    a = Caller(world.a_browser, api_key=world.a_key, base_url=HTTPS)
    b = Caller(world.b_browser, api_key=world.b_key, base_url=HTTPS)

    for route in all_routes(app):
        urls = list(_urls(route, world))
        crash = route.endpoint.startswith("sweep_crash")
        audit.see(f"anonymous {route}", anonymous.call(route, urls[0]), crash=crash)
        if route.endpoint not in NOT_SENT_SIGNED_IN:
            audit.see(f"A {route}", a.call(route, urls[0]), crash=crash)
        if route.method == "GET" and route.endpoint not in PUBLIC:
            for url in urls:
                audit.see(f"B {route} {url}", b.call(route, url), crash=crash)

    # Errors of every kind, for a browser and an API client.
    audit.see("404 page", a.page("GET", "/no-such-page"))
    audit.see("404 API", a.api("GET", "/api/v1/no-such-thing"))
    audit.see("405 page", a.page("POST", "/healthz"))
    audit.see("405 API", a.api("DELETE", "/api/v1/me"))
    audit.see("500 page", a.page("GET", "/_sweep/crash"), crash=True)
    audit.see("500 API", a.api("GET", "/api/v1/_sweep/crash"), crash=True)
    audit.see("400 CSRF", a.open("/customers/new", method="POST", data={"name": "No token"}))
    audit.see("413", a.page("POST", "/customers/new", {"notes": "x" * (MAX_BODY + 1)}))
    # Logging in over HTTPS: a new session cookie; then failed attempts until 429.
    browser = Caller(app.test_client(), base_url=HTTPS)
    login = {"email": world.a.owner.email, "password": PASSWORD}
    audit.see("login", browser.page("POST", "/login", login))
    for _ in range(10):
        attempt = anonymous.page("POST", "/login", {**login, "password": "wrong"})
        audit.see("failed login", attempt)
        if attempt.status_code == 429:
            break
    audit.see("logout", b.page("POST", "/logout"))

    assert not audit.failures, "\n".join(audit.failures)
    assert {200, 302, 400, 401, 404, 405, 413, 422, 429, 500} <= audit.statuses
    assert audit.cookies >= 3, "the sweep saw too few cookies to judge their flags"
    assert audit.responses > 400, audit.responses


def test_without_tls_cookies_are_not_secure_but_still_httponly_and_lax(
    database_url: str,
) -> None:
    """The default (no TLS): no Secure flag (the cookie would never come back
    over plain HTTP) and no HSTS, but HttpOnly and SameSite=Lax as ever."""
    app = make_test_app(database_url)
    assert app.config["SESSION_COOKIE_SECURE"] is False
    response = app.test_client().get("/login")

    assert response.headers.getlist("Set-Cookie"), "the login page starts a session (CSRF)"
    assert header_problems(response, https=False, secure_cookies=False) == []
    app.extensions["db_engine"].dispose()
