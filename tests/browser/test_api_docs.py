"""The interactive API reference is Swagger UI 5, run from the app's own files
under the strict CSP, and lists the API's operations from the OpenAPI spec."""

from __future__ import annotations

from referral.api_docs import SWAGGER_UI_VERSION


def test_the_api_reference_runs_swagger_ui_5_from_the_app(page, live_server) -> None:  # type: ignore[no-untyped-def]
    requested: list[str] = []
    refused: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on(
        "console",
        lambda message: (
            refused.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )

    page.goto("/api/v1/docs")
    page.locator(".opblock").first.wait_for()

    assert page.evaluate("window.versions.swaggerUI.version") == SWAGGER_UI_VERSION
    assert SWAGGER_UI_VERSION.startswith("5.")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any(path.replace("\u200b", "") == "/api/v1/me" for path in paths), paths[:5]
    assert all(url.startswith(live_server.url) for url in requested), requested
    assert refused == []
