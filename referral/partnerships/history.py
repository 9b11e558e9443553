"""What a partnership page shows: both sides, the terms in force, the open
proposal, every agreed version and the history, read in a few queries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from referral.auth.models import User
from referral.businesses.models import Business
from referral.partnerships import services
from referral.partnerships.models import PartnershipEvent, Proposal, ProposalTerms, TermsVersion


@dataclass(frozen=True)
class DirectionTerms:
    referrer: Business
    payer: Business
    terms: ProposalTerms


def _directions(
    session: Session, proposal: Proposal, businesses: dict[int, Business]
) -> list[DirectionTerms]:
    rows = services.proposal_terms(session, proposal)
    return [
        DirectionTerms(referrer=businesses[r.referrer_id], payer=businesses[r.payer_id], terms=r)
        for r in sorted(rows.values(), key=lambda r: r.referrer_id)
    ]


def partnership_page_data(
    *, session: Session, business: Business, partnership_id: int
) -> dict[str, Any]:
    """Everything the detail page needs. NotFound for another tenant's partnership."""
    assert business.id is not None
    partnership = services.get_partnership(
        session=session, business_id=business.id, partnership_id=partnership_id
    )
    partner = session.get(Business, partnership.other_id(business.id))
    assert partner is not None
    businesses = {business.id: business, partner.id: partner}  # type: ignore[dict-item]

    versions = session.exec(
        select(TermsVersion)
        .where(TermsVersion.partnership_id == partnership.id)
        .order_by(TermsVersion.number.desc())
    ).all()
    version_terms = [
        (v, _directions(session, session.get(Proposal, v.proposal_id), businesses))  # type: ignore[arg-type]
        for v in versions
    ]
    proposal = services.open_proposal(session, partnership)
    events = session.exec(
        select(PartnershipEvent, User.name)
        .outerjoin(User, User.id == PartnershipEvent.user_id)
        .where(PartnershipEvent.partnership_id == partnership.id)
        .order_by(PartnershipEvent.id.desc())
    ).all()
    return {
        "partnership": partnership,
        "partner": partner,
        "businesses": businesses,
        "versions": version_terms,
        "proposal": proposal,
        "proposal_terms": _directions(session, proposal, businesses) if proposal else [],
        "my_turn": proposal is not None and proposal.proposed_by_id != business.id,
        "events": events,
    }


def terms_dict(row: ProposalTerms) -> dict[str, Any]:
    return {
        "referrer_id": row.referrer_id,
        "payer_id": row.payer_id,
        "basis": row.basis,
        "rate_bps": row.rate_bps,
        "flat_fee_cents": row.flat_fee_cents,
        "cap_cents": row.cap_cents,
        "currency": row.currency,
        "hold_days": row.hold_days,
        "response_window_hours": row.response_window_hours,
    }


def partnership_summary(*, session: Session, business_id: int, partnership: Any) -> dict[str, Any]:
    """A partnership as the API shows it to one of its sides."""
    partner = session.get(Business, partnership.other_id(business_id))
    assert partner is not None
    version = services.current_version(session, partnership)
    proposal = services.open_proposal(session, partnership)
    return {
        "id": partnership.id,
        "status": partnership.status,
        "partner": partner,
        "proposed_by_id": partnership.proposed_by_id,
        "created_at": partnership.created_at,
        "activated_at": partnership.activated_at,
        "ended_at": partnership.ended_at,
        "current_version": _version_dict(session, version) if version else None,
        "open_proposal": (
            {
                "id": proposal.id,
                "kind": proposal.kind,
                "proposed_by_id": proposal.proposed_by_id,
                "message": proposal.message,
                "created_at": proposal.created_at,
                "terms": [
                    terms_dict(t) for t in services.proposal_terms(session, proposal).values()
                ],
            }
            if proposal
            else None
        ),
    }


def _version_dict(session: Session, version: TermsVersion) -> dict[str, Any]:
    proposal = session.get(Proposal, version.proposal_id)
    assert proposal is not None
    return {
        "number": version.number,
        "effective_at": version.effective_at,
        "terms": [terms_dict(t) for t in services.proposal_terms(session, proposal).values()],
    }


def list_versions(*, session: Session, partnership: Any) -> list[dict[str, Any]]:
    versions = session.exec(
        select(TermsVersion)
        .where(TermsVersion.partnership_id == partnership.id)
        .order_by(TermsVersion.number)
    ).all()
    return [_version_dict(session, v) for v in versions]
