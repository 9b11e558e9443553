"""Jinja setup: filters and what every template can see."""

from __future__ import annotations

import datetime as dt

import phonenumbers
from flask import Flask, g
from markupsafe import Markup

from referral.money import format_cents
from referral.partnerships.terms import describe_terms


def format_datetime(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def phone_link(value: str | None) -> Markup:
    """A stored (E.164) phone number as people write it, dialable: US numbers in
    national format, others international; the link keeps the E.164 form."""
    if not value:
        return Markup("")
    try:
        parsed = phonenumbers.parse(value, "US")
    except phonenumbers.NumberParseException:
        return Markup("{}").format(value)  # stored before validation: as it is
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if phonenumbers.region_code_for_number(parsed) == "US"
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    shown = phonenumbers.format_number(parsed, style)
    return Markup('<a href="tel:{}">{}</a>').format(value, shown)


def _unread_notifications() -> int:
    """Counted with the signed-in user (auth.current), shown in every page's top bar."""
    return int(g.get("unread_notifications") or 0)


def init_app(app: Flask) -> None:
    app.jinja_env.filters["datetime"] = format_datetime
    app.jinja_env.filters["money"] = format_cents
    app.jinja_env.filters["describe_terms"] = describe_terms
    app.jinja_env.filters["phone"] = phone_link
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
