"""Who acts in a business's name: the signed-in user, or an API key acting as
the user who created it. Network and money services take an `Actor`."""

from __future__ import annotations

from dataclasses import dataclass

from flask import g
from sqlmodel import Session

from referral.auth.models import ApiKey, User
from referral.businesses.models import Business
from referral.db import get_session


@dataclass(frozen=True)
class Actor:
    """Who acts: a business, and the user and role doing it (an API key acts as
    the user who created it)."""

    business: Business
    user_id: int
    role: str

    @classmethod
    def of_user(cls, user: User, business: Business) -> Actor:
        assert user.id is not None
        return cls(business=business, user_id=user.id, role=user.role)

    @classmethod
    def of_api_key(cls, session: Session, api_key: ApiKey, business: Business) -> Actor:
        """An API key acts with the role of the person who created it, while
        that person is still an active member."""
        creator = session.get(User, api_key.created_by_id)
        active = creator is not None and creator.disabled_at is None
        role = creator.role if active and creator is not None else "staff"
        return cls(business=business, user_id=api_key.created_by_id, role=role)

    @property
    def business_id(self) -> int:
        assert self.business.id is not None
        return self.business.id


def current_actor() -> Actor:
    """Who acts in this request: the signed-in user on a page, or the API key
    (acting as its creator) on the API, for `g.business`."""
    user = g.get("user")
    if user is not None:
        return Actor.of_user(user, g.business)
    return Actor.of_api_key(get_session(), g.api_key, g.business)
