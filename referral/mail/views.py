"""The local outbox page (embedded default only)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("mail", __name__)
