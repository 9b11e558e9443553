"""One error handler: problem details for API clients, a page for browsers.

Every error answered as JSON is an RFC 9457 problem (application/problem+json):
    {"type": "about:blank", "title": "Unprocessable Content", "status": 422,
     "detail": "...", "message": "...", "errors": {"field": ["..."]}}
`message` (the same as `detail`) and `errors` are extension members, kept
for clients written before problem details. A 401 asks for a bearer token
(`WWW-Authenticate: Bearer`).
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable
from werkzeug.http import HTTP_STATUS_CODES

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class DomainError(Exception):
    """A business rule refused the action. `status` maps it to HTTP."""

    status = 409

    def __init__(self, message: str, *, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class ValidationFailed(DomainError):
    """Input that parsed but breaks a rule the schema cannot know (e.g. unknown ZIP)."""

    status = 422


class PermissionDenied(DomainError):
    """The user's role in their own business does not allow the action."""

    status = 403


class NotFound(DomainError):
    """Missing, or belongs to another business: both look the same from outside."""

    status = 404


def wants_json() -> bool:
    if request.path.startswith("/api/") or request.path.startswith("/stripe/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and not request.accept_mimetypes.accept_html


def field_errors(exc: HTTPException) -> dict[str, Any]:
    """Flatten webargs' {location: {field: [...]}} into one field map."""
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages") or data.get("errors") or {}
    flat: dict[str, Any] = {}
    for location, fields in messages.items():
        if isinstance(fields, dict):
            flat.update(fields)
        else:
            flat[location] = fields
    return flat


def error_response(status: int, message: str, errors: dict[str, Any] | None = None) -> Response:
    if wants_json():
        body: dict[str, Any] = {
            "type": "about:blank",
            "title": HTTP_STATUS_CODES.get(status, "Error"),
            "status": status,
            "detail": message,
            "message": message,
        }
        if errors:
            body["errors"] = errors
        response = jsonify(body)
        response.content_type = PROBLEM_JSON
        if status == 401:
            # RFC 6750: say how to authenticate, and (with a key sent) that it is not valid.
            sent = request.headers.get("Authorization", "").strip()
            response.headers["WWW-Authenticate"] = (
                'Bearer realm="api", error="invalid_token"' if sent else 'Bearer realm="api"'
            )
    else:
        template = (
            f"errors/{status}.html" if status in (400, 404, 413, 429) else "errors/error.html"
        )
        response = Response(
            render_template(template, status=status, message=message, errors=errors or {})
        )
    response.status_code = status
    return response


def handle_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    message = data.get("message") or exc.description or exc.name
    if status == 422 and not data.get("message"):
        message = "Some fields are not valid."
    response = error_response(status, message, field_errors(exc))
    for name, value in exc.get_headers() if status in (405, 429) else []:
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def handle_domain_error(exc: DomainError) -> Response:
    return error_response(exc.status, exc.message, exc.errors)


# Seconds a client is asked to wait when the database is away (a restart or a
# failover usually takes a few).
DATABASE_RETRY_AFTER_SECONDS = 5


def _is_outage(exc: DBAPIError | DisconnectionError) -> bool:
    if isinstance(exc, DisconnectionError) or exc.connection_invalidated:
        return True
    if not isinstance(exc, OperationalError):
        return False
    if isinstance(exc.orig, sqlite3.Error):  # SQLite calls a typo "operational" too
        return any(m in str(exc.orig) for m in ("locked", "busy", "unable to open"))
    return True  # the server refused, dropped or timed out the connection


def handle_database_error(exc: DBAPIError | DisconnectionError) -> Response:
    """The database could not be reached (or dropped the connection, or SQLite
    stayed locked): a 503 to try again shortly, not a 500, so load balancers and
    clients retry. The request's transaction is rolled back as for any error."""
    if not _is_outage(exc):
        return handle_unexpected(exc)  # a bug in a statement, not an outage
    log.error("database unavailable: %s", type(getattr(exc, "orig", exc) or exc).__name__)
    response = error_response(503, ServiceUnavailable.description)
    response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response


def handle_unexpected(exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, InternalServerError.description)


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(DomainError, handle_domain_error)
    if not app.debug:
        app.register_error_handler(DBAPIError, handle_database_error)
        app.register_error_handler(DisconnectionError, handle_database_error)
        app.register_error_handler(Exception, handle_unexpected)
