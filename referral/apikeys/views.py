"""Pages: create, list and revoke API keys."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("apikeys", __name__)
