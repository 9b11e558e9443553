"""API: trades, public business profiles, and my own business profile."""

from __future__ import annotations

from referral.api import Blueprint

blp = Blueprint(
    "api_businesses", __name__, url_prefix="", description="Trades and business profiles."
)
