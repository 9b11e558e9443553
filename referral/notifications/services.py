"""Tell a business something happened: a row in its notification list, and an
email to its owners and managers through the job queue."""

from __future__ import annotations

import datetime as dt

from flask import current_app
from sqlalchemy import func, update
from sqlmodel import Session, select

from referral.auth.models import User
from referral.auth.roles import MANAGING_ROLES
from referral.businesses.models import Business
from referral.db import utcnow
from referral.mail.services import queue_email
from referral.notifications.models import TITLE_LENGTH, Notification


def fitting_title(title: str) -> str:
    """A title built from names people typed (a customer's, a business's, an
    offer's) can be longer than the column: shorten it, never fail on it."""
    title = " ".join(title.split())
    return title if len(title) <= TITLE_LENGTH else title[: TITLE_LENGTH - 1] + "…"


def notify_business(
    *, session: Session, business_id: int, kind: str, title: str, path: str = ""
) -> Notification:
    """Record a notification for `business_id` and email its owners and managers.
    `path` is a link inside the app (e.g. "/partnerships/4")."""
    title = fitting_title(title)
    notification = Notification(business_id=business_id, kind=kind, title=title, link=path)
    if any(isinstance(row, User | Business) for row in (*session.new, *session.dirty)):
        session.flush()  # a member or business changed in this request counts as changed
    # Without flushing what the request wrote so far (it reads none of it): the
    # notifications and emails of one request then go out together, one INSERT
    # per table at the next flush (a won job told both sides in six, now two).
    with session.no_autoflush:
        session.add(notification)
        recipients = session.exec(  # with their business, for the email: one statement
            select(User, Business)
            .join(Business, Business.id == User.business_id)
            .where(
                User.business_id == business_id,
                User.role.in_(MANAGING_ROLES),
                User.disabled_at.is_(None),
                User.email_verified_at.is_not(None),
            )
        ).all()
    link = f"{current_app.config['BASE_URL']}{path}" if path else ""
    for user, business in recipients:
        queue_email(
            session,
            to=user.email,
            subject=title,
            template="notification",
            name=user.name,
            business=business,
            title=title,
            link=link,
        )
    return notification


def list_notifications(
    *, session: Session, business_id: int, limit: int = 50
) -> list[Notification]:
    return list(
        session.exec(
            select(Notification)
            .where(Notification.business_id == business_id)
            .order_by(Notification.id.desc())
            .limit(limit)
        )
    )


def count_unread(*, session: Session, business_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.business_id == business_id, Notification.read_at.is_(None))
        )
        or 0
    )


def mark_all_read(*, session: Session, business_id: int, now: dt.datetime | None = None) -> int:
    result = session.execute(
        update(Notification)
        .where(Notification.business_id == business_id, Notification.read_at.is_(None))
        .values(read_at=now or utcnow())
    )
    return result.rowcount or 0
