"""Interactive API docs, served by the app itself: Swagger UI 5 vendored under
static/vendor/swagger-ui (see its README), no CDN."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, send_from_directory

from referral.paths import resource

SWAGGER_UI_VERSION = "5.35.0"
SWAGGER_UI_DIR = resource("static") / "vendor" / "swagger-ui"
ASSETS = {"swagger-ui-bundle.js", "swagger-ui.css"}

docs = Blueprint("docs", __name__)


@docs.get("/api/v1/docs")
def swagger_ui():  # type: ignore[no-untyped-def]
    """The API reference, generated from the OpenAPI spec."""
    return render_template("api/docs.html")


@docs.get("/api/v1/docs/assets/<path:filename>")
def swagger_asset(filename: str):  # type: ignore[no-untyped-def]
    if filename not in ASSETS:
        abort(404)
    return send_from_directory(SWAGGER_UI_DIR, filename, max_age=86400)
