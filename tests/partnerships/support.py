"""Helpers for partnership tests: terms, actors and agreed partnerships."""

from __future__ import annotations

from sqlmodel import Session

from referral.auth.models import User
from referral.businesses.models import Business
from referral.partnerships import services
from referral.partnerships.models import Partnership
from referral.partnerships.services import Actor, TermsPair
from referral.partnerships.terms import TermsOffer

TEN_PERCENT = TermsOffer(basis="percent", rate_bps=1000, hold_days=14, response_window_hours=48)
FIFTY_DOLLARS_PER_WIN = TermsOffer(
    basis="flat_per_won", flat_fee_cents=5000, hold_days=7, response_window_hours=24
)


def actor(user: User, business: Business) -> Actor:
    return Actor.of_user(user, business)


def terms(
    they_refer_to_me: TermsOffer = TEN_PERCENT, i_refer_to_them: TermsOffer = TEN_PERCENT
) -> TermsPair:
    return TermsPair(they_refer_to_me=they_refer_to_me, i_refer_to_them=i_refer_to_them)


def agreed_partnership(db: Session, proposer: Actor, partner: Actor) -> Partnership:
    partnership = services.propose_partnership(
        session=db, actor=proposer, partner_id=partner.business_id, terms=terms()
    )
    assert partnership.id is not None
    services.accept_proposal(session=db, actor=partner, partnership_id=partnership.id)
    db.commit()
    return partnership
