"""A notification's title is built from what people typed (a customer's or
business's name, an offer's title) and what Stripe said: however long, it is
shortened to fit, never a database error that undoes the work it reports.
Every verified owner and manager is emailed, one added in the same
transaction too."""

from __future__ import annotations

from sqlmodel import Session, select

from referral.auth.models import User
from referral.db import utcnow
from referral.jobs.models import Job
from referral.mail.services import SEND_EMAIL
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


def test_a_manager_added_in_the_same_transaction_is_emailed_too(
    app_context: None, db: Session
) -> None:
    # The notification reads the managers without flushing the request's other
    # writes: a member added or changed in it must still count.
    business = make_business(db)
    db.add(
        User(
            business_id=business.id or 0,
            email="new.manager@example.com",
            name="New Manager",
            password_hash="x",
            role="manager",
            email_verified_at=utcnow(),
        )
    )

    notify_business(
        session=db, business_id=business.id or 0, kind="referral.won", title="A job was won"
    )
    db.commit()

    emailed = db.exec(select(Job.payload).where(Job.kind == SEND_EMAIL)).all()
    assert "new.manager@example.com" in [payload["to"] for payload in emailed]
    assert db.exec(select(Notification.title)).all() == ["A job was won"]
