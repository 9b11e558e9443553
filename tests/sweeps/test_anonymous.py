"""Without signing in, every route that is not listed as public sends a browser
to the login page (and back afterwards) and answers an API client 401, for
every method it takes; the public routes answer without a login."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from flask import Flask
from sqlmodel import Session

from tests.support.routes import PUBLIC, Caller, all_routes, fillings, public_url
from tests.support.world import build_world

# A public link answers its recipient with the page it stands for (the
# verification link confirms the address and goes home).
ANSWERED_WITH_A_PAGE = {
    "consent.ask",
    "consent.withdraw",
    "auth.accept_invitation",
    "auth.reset_password",
}
NOT_A_KEY = "rk_live_00000000_not-a-key-anyone-was-given"


def _to_login(response) -> str | None:  # type: ignore[no-untyped-def]
    """Where after logging in, if the response sends the browser to the login page."""
    if response.status_code != 302:
        return None
    location = urlsplit(response.headers["Location"])
    if location.path != "/login":
        return None
    return parse_qs(location.query).get("next", [""])[0]


def test_every_route_but_the_public_ones_needs_a_login(app: Flask, db: Session) -> None:
    world = build_world(app, db)
    anonymous = Caller(app.test_client())
    failures = []
    checked = 0
    for route in all_routes(app):
        if route.endpoint in PUBLIC:
            continue
        for what, url in fillings(route, world):
            checked += 1
            where = f"{route} with {what}" if what else str(route)
            if route.is_api:
                for key in (None, world.b_revoked_key, NOT_A_KEY):
                    response = anonymous.api(route.method, url, {}, key=key)
                    if response.status_code != 401 or response.json["status"] != 401:
                        failures.append(f"{where}, key {key}: {response.status_code}, not 401")
                    if any(secret in response.get_data(as_text=True) for secret in world.secrets):
                        failures.append(f"{where}, key {key}: showed B's data")
            else:
                response = anonymous.page(route.method, url)
                if _to_login(response) != url:
                    failures.append(
                        f"{where}: {response.status_code} {response.headers.get('Location')}"
                        ", not a redirect to the login page and back"
                    )

    assert not failures, "\n".join(failures)
    assert checked > 150, checked


def test_the_public_routes_answer_without_a_login(app: Flask, db: Session) -> None:
    world = build_world(app, db)
    anonymous = Caller(app.test_client())
    routes = [route for route in all_routes(app) if route.endpoint in PUBLIC]
    failures = []
    for route in routes:
        url = public_url(route, world)
        if route.method == "GET":
            response = anonymous.page("GET", url)
        else:
            # An empty form: public actions refuse it, and it changes nothing.
            response = anonymous.open(
                url, method=route.method, data={"csrf_token": anonymous.csrf_token()}
            )
        status = response.status_code
        if status >= 500 or _to_login(response) is not None:
            failures.append(f"{route}: {status} {response.headers.get('Location', '')}")
        if route.endpoint in ANSWERED_WITH_A_PAGE and route.method == "GET" and status != 200:
            failures.append(f"{route}: {status}, not the page its link stands for")

    assert not failures, "\n".join(failures)
    assert {route.endpoint for route in routes} == set(PUBLIC), "a PUBLIC entry has no route"
