"""Links to pages: the paths of pages and static files, and the main
navigation on every signed-in page (one link per section, the current
section's marked aria-current="page").

Which link is current depends only on the page (its endpoint and blueprint),
so the links are worked out once per page, operator or not, and mount point,
and kept with the app: built by a Jinja macro per link, the navigation was a
sixth of the home page's CPU."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app, request, url_for


def page_path(endpoint: str) -> str:
    """`url_for(endpoint)` for a page that takes no arguments, built once per
    endpoint and mount point and kept with the app (the navigation's dozen
    links on every page were a tenth of a small page's CPU)."""
    built: dict[tuple[str, str, str], str] = current_app.extensions.setdefault("page_paths", {})
    key = (endpoint, "", request.script_root)
    if key not in built:
        built[key] = url_for(endpoint)
    return built[key]


def asset_path(filename: str) -> str:
    """`url_for("static", filename=...)`, built once per file and mount point
    like `page_path` (every page links four)."""
    built: dict[tuple[str, str, str], str] = current_app.extensions.setdefault("page_paths", {})
    key = ("static", filename, request.script_root)
    if key not in built:
        built[key] = url_for("static", filename=filename)
    return built[key]


_FINDING = ("partnerships.discover", "partnerships.propose", "partnerships.blocked")


@dataclass(frozen=True)
class NavLink:
    path: str
    label: str
    current: bool
    counts_unread: bool = False  # the unread notifications' badge goes here


@dataclass(frozen=True)
class _Section:
    endpoint: str
    label: str
    is_current: Callable[[str, str], bool]  # (endpoint, blueprint) of the page shown
    counts_unread: bool = False


SECTIONS = (
    _Section(
        "analytics.dashboard",
        "Dashboard",
        lambda here, _: here in ("analytics.dashboard", "home.index"),
    ),
    _Section(
        "partnerships.discover",
        "Find partners",
        lambda here, _: here in (*_FINDING, "businesses.profile"),
    ),
    _Section(
        "partnerships.index",
        "Partnerships",
        lambda here, section: section == "partnerships" and here not in _FINDING,
    ),
    _Section("customers.index", "Customers", lambda _, section: section == "customers"),
    _Section("offers.index", "Offers", lambda _, section: section == "offers"),
    _Section("campaigns.index", "Campaigns", lambda _, section: section == "campaigns"),
    _Section("referrals.inbox", "Received", lambda here, _: here == "referrals.inbox"),
    _Section(
        "referrals.outbox", "Sent", lambda here, _: here in ("referrals.outbox", "referrals.send")
    ),
    _Section(
        "notifications.index",
        "Notifications",
        lambda _, section: section == "notifications",
        counts_unread=True,
    ),
    _Section(
        "leads.market",
        "Leads",
        lambda here, section: section == "leads" and here != "leads.operator",
    ),
    _Section("commissions.index", "Commissions", lambda _, section: section == "commissions"),
    _Section(
        "payments.index",
        "Payments",
        lambda here, section: (
            section in ("payments", "settlements") and here != "settlements.operator"
        ),
    ),
)
OPERATOR = _Section(
    "analytics.operator",
    "Operator",
    lambda here, _: (
        here.endswith(".operator") or (here.startswith("businesses.") and "trade" in here)
    ),
)


def navigation(*, operator: bool) -> tuple[NavLink, ...]:
    """The navigation's links for the page being shown."""
    here, section = request.endpoint or "", request.blueprint or ""
    built: dict[tuple[str, str, bool, str], tuple[NavLink, ...]]
    built = current_app.extensions.setdefault("navigation", {})
    key = (here, section, operator, request.script_root)
    if key not in built:
        sections = (*SECTIONS, OPERATOR) if operator else SECTIONS
        built[key] = tuple(
            NavLink(
                page_path(each.endpoint),
                each.label,
                each.is_current(here, section),
                each.counts_unread,
            )
            for each in sections
        )
    return built[key]
