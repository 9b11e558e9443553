"""A notification's title is built from what people typed (a customer's or
business's name, an offer's title) and what Stripe said: however long, it is
shortened to fit, never a database error that undoes the work it reports."""

from __future__ import annotations

from sqlmodel import Session, select

from referral.notifications.models import TITLE_LENGTH, Notification
from referral.notifications.services import notify_business
from tests.support.factories import make_business


def test_a_title_longer_than_its_column_is_shortened_not_refused(
    app_context: None, db: Session
) -> None:
    business = make_business(db)
    long_name = "Ñ" + "x" * 119
    failure = "Your card was declined. " * 20

    notify_business(
        session=db,
        business_id=business.id or 0,
        kind="lead.payment_failed",
        title=f"{long_name} says: {failure}",
    )
    db.commit()

    title = db.exec(select(Notification.title)).one()
    assert len(title) == TITLE_LENGTH and title.endswith("…")
    assert title.startswith(f"{long_name} says: Your card was declined. Your card")
