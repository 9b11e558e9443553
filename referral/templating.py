"""Jinja setup: filters and what every template can see."""

from __future__ import annotations

import datetime as dt

from flask import Flask, g

from referral.money import format_cents
from referral.partnerships.terms import describe_terms


def format_datetime(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _unread_notifications() -> int:
    """Counted with the signed-in user (auth.current), shown in every page's top bar."""
    return int(g.get("unread_notifications") or 0)


def init_app(app: Flask) -> None:
    app.jinja_env.filters["datetime"] = format_datetime
    app.jinja_env.filters["money"] = format_cents
    app.jinja_env.filters["describe_terms"] = describe_terms
    # Flask escapes .html templates (and .xml, .svg...) and leaves .txt as
    # written: plain-text email and the consent text are not HTML, and would
    # otherwise show "&lt;" and "&#39;" to the reader (and be escaped again
    # when a page shows them).

    from referral.mail.views import outbox_visible

    @app.context_processor
    def _current() -> dict[str, object]:
        return {
            "current_user": g.get("user"),
            "current_business": g.get("business"),
            "mail_outbox_enabled": outbox_visible(),
            "unread_notifications": _unread_notifications(),
        }
