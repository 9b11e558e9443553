"""CSRF, rate limits and the security headers every response carries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
# Only the views decorated with `limiter.limit` (logging in, resending links) have
# limits; there are no default or application-wide ones.
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)

# Stripe's hosted pages (onboarding, Checkout): forms that post to the app and
# are redirected there must be allowed to go on, or the browser stops them.
STRIPE_HOSTED_PAGES = "https://connect.stripe.com https://checkout.stripe.com"


def content_security_policy(stripe_api_base: str | None) -> str:
    """No inline script or style anywhere: every script is a file under /static.
    Forms go to the app, and on to Stripe's hosted pages (the stand-in's with it)."""
    if stripe_api_base:
        where = urlsplit(stripe_api_base)
        stripe_pages = f"{where.scheme}://{where.netloc}"
    else:
        stripe_pages = STRIPE_HOSTED_PAGES
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            f"form-action 'self' {stripe_pages}",
            "frame-ancestors 'none'",
        ]
    )


# Every response carries these (and the app's Content-Security-Policy), unless
# the view set its own value.
SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)
_SECURITY_HEADERS = tuple((name.lower(), name, value) for name, value in SECURITY_HEADERS)
HSTS = "max-age=63072000; includeSubDomains"


def set_security_headers(response: Response) -> Response:
    """Add each header the response lacks (as `Headers.setdefault` would, which
    raises and catches an exception for each missing name: this looks once)."""
    headers = response.headers
    present = {name.lower() for name, _ in headers}
    if "content-security-policy" not in present:
        headers.add("Content-Security-Policy", current_app.config["CONTENT_SECURITY_POLICY"])
    for lower, name, value in _SECURITY_HEADERS:
        if lower not in present:
            headers.add(name, value)
    if request.is_secure and "strict-transport-security" not in present:
        headers.add("Strict-Transport-Security", HSTS)
    if "cache-control" not in present and (
        response.mimetype in ("text/html", "text/csv") or request.path.startswith("/api/")
    ):
        # Pages, API answers and CSV exports hold private data: never keep them in caches.
        headers["Cache-Control"] = "no-store"
    return response


def safe_next(target: str | None, default: str | None = None) -> str:
    r"""A `next` parameter only if it is a path on this site (else `default`,
    the home page when none): never an open redirect. Browsers read "\" as "/"
    and drop tabs and newlines, so "/\evil.example" and "/<tab>/evil.example"
    are refused like "//evil.example"."""
    home = default or url_for("home.index")
    if not target or not target.startswith("/") or target.startswith("//"):
        return home
    if "\\" in target or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return home
    parts = urlsplit(target)
    return home if parts.scheme or parts.netloc else target


F = TypeVar("F", bound=Callable[..., Any])


def accepts_uploads_up_to(limit: int) -> Callable[[F], F]:
    """Let this view's requests be up to `limit` bytes (a file upload) instead of
    MAX_CONTENT_LENGTH. Set before anything reads the body (CSRF reads the form)."""

    def mark(view: F) -> F:
        view.max_content_length = limit  # type: ignore[attr-defined]
        return view

    return mark


def _per_view_upload_limit() -> None:
    view = current_app.view_functions.get(request.endpoint or "")
    limit = getattr(view, "max_content_length", None) or getattr(
        getattr(view, "view_class", None), "max_content_length", None
    )
    if limit is not None:
        request.max_content_length = limit


def init_app(app: Flask) -> None:
    app.config["CONTENT_SECURITY_POLICY"] = content_security_policy(app.config["STRIPE_API_BASE"])
    app.before_request(_per_view_upload_limit)
    csrf.init_app(app)
    limiter.init_app(app)
    _check_limits_only_where_declared(app)
    app.after_request(set_security_headers)


def _check_limits_only_where_declared(app: Flask) -> None:
    """Flask-Limiter looks for limits before every request, which costs about a
    tenth of a small request's time. The views decorated with `limiter.limit`
    check their own limits when called (the decorator's wrapper does), so the
    before-request check is only needed for limits no view declares: default,
    application-wide, blueprint or meta limits. Whether there are any is known
    once every blueprint is registered, at the first request; without any, the
    check is skipped from then on."""
    hooks = app.before_request_funcs.get(None, [])
    if limiter._check_request_limit not in hooks:
        return
    needed: list[bool] = []

    def check_request_limit() -> None:
        if not needed:
            needed.append(_limits_beyond_decorated_views())
        if needed[0]:
            limiter._check_request_limit()

    hooks[hooks.index(limiter._check_request_limit)] = check_request_limit


def _limits_beyond_decorated_views() -> bool:
    manager = limiter.limit_manager
    return bool(
        manager.default_limits
        or manager.application_limits
        # Not public: if a new release renames them, keep checking every request.
        or getattr(manager, "_blueprint_limits", True)
        or getattr(limiter, "_meta_limits", True)
    )
