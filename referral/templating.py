"""Jinja setup: filters and what every template can see."""

from __future__ import annotations

import datetime as dt

from flask import Flask, g

from referral.money import format_cents


def format_datetime(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def init_app(app: Flask) -> None:
    app.jinja_env.filters["datetime"] = format_datetime
    app.jinja_env.filters["money"] = format_cents
    app.jinja_env.autoescape = True

    @app.context_processor
    def _current() -> dict[str, object]:
        return {
            "current_user": g.get("user"),
            "current_business": g.get("business"),
            "mail_outbox_enabled": app.config.get("MAIL_BACKEND") == "outbox",
        }
