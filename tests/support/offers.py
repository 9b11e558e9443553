"""Offers for tests: publish one as a business would, valid from yesterday for 30 days."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session

from referral.businesses.actor import Actor
from referral.offers import services as offers
from referral.offers.models import Offer
from referral.offers.services import OfferInput


def publish(db: Session, who: Actor, kind: str = "partner", **fields: Any) -> Offer:
    """An offer by `who` (committed): a partner offer unless `kind="own"`."""
    data: dict[str, Any] = {
        "kind": kind,
        "title": "First drain cleaning",
        "benefit": "10% off a first drain cleaning",
        "valid_from": dt.date.today() - dt.timedelta(days=1),
        "valid_until": dt.date.today() + dt.timedelta(days=30),
        **fields,
    }
    offer = offers.create_offer(session=db, actor=who, data=OfferInput(**data))
    db.commit()
    return offer
