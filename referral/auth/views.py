"""Pages: sign up, email verification, log in/out, password reset, team, API keys."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("auth", __name__)
