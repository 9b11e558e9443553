"""API: who am I."""

from __future__ import annotations

from referral.api import Blueprint

blp = Blueprint("me", __name__, url_prefix="", description="The business an API key belongs to.")
