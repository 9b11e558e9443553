"""Pages: the business profile, public profiles, the operator's trade table."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("businesses", __name__)
