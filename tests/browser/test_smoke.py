"""The welcome page renders in a real browser with its own assets and no CSP errors."""

from __future__ import annotations


def test_welcome_page_loads_styles_and_script_from_the_app(page, live_server) -> None:  # type: ignore[no-untyped-def]
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto("/")

    assert page.title()
    assert requested, "the page made no requests"
    assert all(url.startswith(live_server.url) for url in requested), requested
    css_color = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert css_color  # the stylesheet loaded
