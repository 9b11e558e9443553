"""Security headers and rate limits that every request goes through."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask, Response

from referral.security import limiter
from tests.support.app import make_test_app


def test_a_view_may_set_its_own_security_headers(app: Flask) -> None:
    def own() -> Response:
        response = Response("<p>framed</p>", mimetype="text/html")
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        response.headers["Cache-Control"] = "private, max-age=60"
        return response

    app.add_url_rule("/_own", view_func=own)
    headers = app.test_client().get("/_own").headers

    assert headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert headers.getlist("Cache-Control") == ["private, max-age=60"]
    assert headers["Content-Security-Policy"] == app.config["CONTENT_SECURITY_POLICY"]


def test_pages_are_never_cached_and_https_gets_hsts(client) -> None:  # type: ignore[no-untyped-def]
    plain = client.get("/login")
    secure = client.get("/login", base_url="https://localhost")

    assert plain.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in plain.headers
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")


@pytest.fixture
def default_limit_app(database_url: str) -> Iterator[Flask]:
    """An app with a default limit on every view. The limiter is shared by every
    app in the process, so the default is taken off it again afterwards."""
    app = make_test_app(database_url, RATELIMIT_DEFAULT="2 per minute")
    yield app
    limiter.limit_manager.set_default_limits([])
    app.extensions["db_engine"].dispose()


def test_a_configured_default_limit_applies_to_every_view(default_limit_app: Flask) -> None:
    client = default_limit_app.test_client()
    statuses = [client.get("/healthz").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
