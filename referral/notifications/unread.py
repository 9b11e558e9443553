"""The unread count in every page's top bar: counted in the query that loads
the signed-in user (auth.current), shown by every template (templating).

Imported for what it registers (a `reactions` module in referral/domains.py).
"""

from __future__ import annotations

from typing import Any

from flask import g
from sqlalchemy import Select, func
from sqlmodel import col, select

from referral.auth.current import load_with_user
from referral.notifications.models import Notification
from referral.templating import template_context


@load_with_user("unread_notifications")
def _count_unread(query: Select[Any], business_id: Any) -> Select[Any]:
    unread = (
        select(func.count())
        .select_from(Notification)
        .where(Notification.business_id == business_id, col(Notification.read_at).is_(None))
        .correlate_except(Notification)
        .scalar_subquery()
    )
    return query.add_columns(unread)


@template_context
def _unread() -> dict[str, object]:
    return {"unread_notifications": int(g.get("unread_notifications") or 0)}
