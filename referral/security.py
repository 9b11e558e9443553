"""CSRF, rate limits and the security headers every response carries."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
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


def set_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", current_app.config["CONTENT_SECURITY_POLICY"])
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
    if "Cache-Control" not in headers and response.mimetype == "text/html":
        # Pages show private data: never keep them in shared caches.
        headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    app.config["CONTENT_SECURITY_POLICY"] = content_security_policy(app.config["STRIPE_API_BASE"])
    csrf.init_app(app)
    limiter.init_app(app)
    app.after_request(set_security_headers)
