"""What a partnership page shows: both sides, the terms in force, the open
proposal, every agreed version and the history, read in a few queries."""

from __future__ import annotations

from collections.abc import Sequence
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
    rows: dict[int, ProposalTerms], businesses: dict[int, Business]
) -> list[DirectionTerms]:
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
    proposal = services.open_proposal(session, partnership)
    # Every version's terms and the open proposal's in one statement.
    terms = services.terms_of_proposals(
        session, [v.proposal_id for v in versions] + ([proposal.id] if proposal else [])
    )
    version_terms = [(v, _directions(terms.get(v.proposal_id, {}), businesses)) for v in versions]
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
        "proposal_terms": _directions(terms.get(proposal.id, {}), businesses) if proposal else [],
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
    (summary,) = partnership_summaries(
        session=session, business_id=business_id, partnerships=[partnership]
    )
    return summary


def partnership_summaries(
    *, session: Session, business_id: int, partnerships: Sequence[Any]
) -> list[dict[str, Any]]:
    """Partnerships as the API shows them to one of their sides, in their order:
    four statements however many (the partners, the versions in force, the open
    proposals, and the terms of both)."""
    if not partnerships:
        return []
    ids = [p.id for p in partnerships]
    partners = {
        b.id: b
        for b in session.exec(
            select(Business).where(Business.id.in_([p.other_id(business_id) for p in partnerships]))
        )
    }
    versions = services.current_versions(session, ids)
    proposals = services.open_proposals(session, ids)
    terms = services.terms_of_proposals(
        session,
        [v.proposal_id for v in versions.values()] + [p.id for p in proposals.values()],
    )
    return [
        _summary(
            partnership,
            partner=partners[partnership.other_id(business_id)],
            version=versions.get(partnership.id),
            proposal=proposals.get(partnership.id),
            terms=terms,
        )
        for partnership in partnerships
    ]


def _summary(
    partnership: Any,
    *,
    partner: Business,
    version: TermsVersion | None,
    proposal: Proposal | None,
    terms: dict[int, dict[int, ProposalTerms]],
) -> dict[str, Any]:
    return {
        "id": partnership.id,
        "status": partnership.status,
        "partner": partner,
        "proposed_by_id": partnership.proposed_by_id,
        "created_at": partnership.created_at,
        "activated_at": partnership.activated_at,
        "ended_at": partnership.ended_at,
        "current_version": _version_dict(version, terms) if version else None,
        "open_proposal": _proposal_dict(proposal, terms) if proposal else None,
    }


def _version_dict(
    version: TermsVersion, terms: dict[int, dict[int, ProposalTerms]]
) -> dict[str, Any]:
    """A version with the terms of the proposal it adopted (`terms` by proposal id)."""
    return {
        "number": version.number,
        "effective_at": version.effective_at,
        "terms": [terms_dict(t) for t in terms.get(version.proposal_id, {}).values()],
    }


def _proposal_dict(
    proposal: Proposal, terms: dict[int, dict[int, ProposalTerms]]
) -> dict[str, Any]:
    return {
        "id": proposal.id,
        "kind": proposal.kind,
        "proposed_by_id": proposal.proposed_by_id,
        "message": proposal.message,
        "created_at": proposal.created_at,
        "terms": [terms_dict(t) for t in terms.get(proposal.id, {}).values()],
    }


def list_versions(*, session: Session, partnership: Any) -> list[dict[str, Any]]:
    """Every agreed version, oldest first: two statements however many."""
    versions = session.exec(
        select(TermsVersion)
        .where(TermsVersion.partnership_id == partnership.id)
        .order_by(TermsVersion.number)
    ).all()
    terms = services.terms_of_proposals(session, [v.proposal_id for v in versions])
    return [_version_dict(v, terms) for v in versions]
