"""API: who am I (the business an API key belongs to)."""

from __future__ import annotations

from referral.api import Blueprint

blp = Blueprint(
    "api_me", __name__, url_prefix="", description="The business an API key belongs to."
)
