"""Sign-up: a new business and its owner (an account of auth)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from referral.auth.models import User
from referral.auth.services import (
    add_owner,
    answer_signup_of_existing,
    refuse_weak_password,
    user_by_email,
)
from referral.businesses.services import create_business


def sign_up_business(*, session: Session, data: dict[str, Any]) -> User | None:
    """Create a business and its owner from validated SignupSchema data, and
    email the owner a verification link. Fails (ValidationFailed) on an
    unknown trade or ZIP code.

    When the email already has an account, nothing is created (None) and that
    account's owner is emailed that someone tried to sign up with it, with a
    link to reset the password: the page answers the same either way, so it
    does not reveal who has an account."""
    refuse_weak_password(
        data["password"],
        email=data["email"],
        business_name=data["business_name"],
        name=data["name"],
    )
    existing = user_by_email(session, data["email"])
    with session.begin_nested() as tried:  # the same checks of trade and ZIP either way
        business = create_business(
            session=session,
            name=data["business_name"],
            trade=data["trade"],
            zip_code=data["zip_code"],
            radius_miles=data["radius_miles"],
        )
        if existing is not None:
            tried.rollback()
    if existing is not None:
        answer_signup_of_existing(session=session, user=existing, password=data["password"])
        return None
    assert business.id is not None
    return add_owner(
        session=session,
        business_id=business.id,
        email=data["email"],
        name=data["name"],
        password=data["password"],
    )
