"""Jinja setup: filters and what every template can see."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import phonenumbers
from flask import Flask, g
from markupsafe import Markup

from referral.localtime import format_datetime
from referral.money import format_cents
from referral.navigation import asset_path, navigation, page_path

F = TypeVar("F", bound=Callable[..., Any])
ContextProvider = Callable[[], dict[str, object]]

# Filters and per-render values of the domains above core, registered at import
# of their `reactions` modules (referral/domains.py), installed by `init_app`.
_FILTERS: dict[str, Callable[..., Any]] = {}
_CONTEXT: list[ContextProvider] = []


def template_filter(name: str) -> Callable[[F], F]:
    """Register a Jinja filter every template (pages and emails) may use."""

    def register(function: F) -> F:
        _FILTERS[name] = function
        return function

    return register


def template_context(provider: ContextProvider) -> ContextProvider:
    """Register values every template sees, computed at each render."""
    _CONTEXT.append(provider)
    return provider


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """ "1 customer", "2 customers" (or the plural given)."""
    return f"{count:,} {singular if count == 1 else plural_form or singular + 's'}"


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


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(page_path=page_path, asset_path=asset_path, navigation=navigation)
    app.jinja_env.filters["datetime"] = format_datetime
    app.jinja_env.filters["money"] = format_cents
    app.jinja_env.filters["phone"] = phone_link
    app.jinja_env.filters["plural"] = plural
    app.jinja_env.filters.update(_FILTERS)
    # Flask escapes .html templates (and .xml, .svg...) and leaves .txt as
    # written: plain-text email and the consent text are not HTML, and would
    # otherwise show "&lt;" and "&#39;" to the reader (and be escaped again
    # when a page shows them).

    from referral.mail.views import outbox_visible

    @app.context_processor
    def _current() -> dict[str, object]:
        values: dict[str, object] = {
            "current_user": g.get("user"),
            "current_business": g.get("business"),
            "mail_outbox_enabled": outbox_visible(),
        }
        for provider in _CONTEXT:
            values.update(provider())
        return values
