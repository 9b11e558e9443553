"""Local time: every date and time a business reads (pages, CSV, emails) is
in its own zone, with the zone's abbreviation; a customer's pages use the
zone of the business that referred them. Stored times and the API stay UTC.

The zone of a request is the one a view chose (`g.time_zone`), else the
signed-in business's (`Business.zone_name`: the zone picked in its profile,
else its ZIP code's), else UTC."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import g, has_app_context

UTC = ZoneInfo("UTC")


def zone(name: str | None) -> ZoneInfo:
    """The zone of that IANA name; UTC for none or an unknown one."""
    try:
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def display_zone() -> ZoneInfo:
    """The zone this request shows times in."""
    if not has_app_context():
        return UTC
    business = g.get("business")
    return zone(g.get("time_zone") or (business.zone_name if business is not None else None))


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def format_datetime(value: dt.datetime | None, in_zone: ZoneInfo | None = None) -> str:
    """A moment as "2026-03-08 01:59 CST", in the display zone: the one
    template filter (`datetime`) and CSV format for times."""
    if value is None:
        return ""
    local = _aware(value).astimezone(in_zone or display_zone())
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def local_date(value: dt.datetime, in_zone: ZoneInfo | None = None) -> dt.date:
    """The calendar day a moment falls on in the display zone."""
    return _aware(value).astimezone(in_zone or display_zone()).date()
