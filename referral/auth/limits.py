"""Rate limits on what emails an address (sign-up, new links, resets)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app, g, request

from referral.auth.services import normalise_email
from referral.security import limiter


def _per_email_limit() -> str:
    return current_app.config["EMAIL_RATE_LIMIT"]


def _target_email() -> str:
    """The address a sign-up, a new link or a reset is for: limited per address
    as well as per client, so no one floods one inbox from many addresses."""
    user = g.get("user")
    email = user.email if user is not None else request.form.get("email", "")
    return f"{request.endpoint}:{normalise_email(email)[:254]}"


def per_email_limit() -> Callable[[Any], Any]:
    """Limit a view's POSTs per target address (EMAIL_RATE_LIMIT)."""
    return limiter.limit(_per_email_limit, key_func=_target_email, methods=["POST"])
