"""Absolute links to our own pages, for emails."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app


def absolute_url(endpoint: str, **values: Any) -> str:
    """An absolute URL of `endpoint` on the configured BASE_URL.

    Never built from the request's Host header: a client chooses that, and a
    password reset link pointing at an attacker's host would hand them the token.
    Works with or without a request (CLI commands, jobs)."""
    base = urlsplit(current_app.config["BASE_URL"])
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "https"
    )
    return adapter.build(endpoint, values, force_external=True)
