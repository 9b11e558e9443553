"""Every write to a partnership, and the rules that guard it.

Rules enforced here (whatever a page or API client sends):
- no partnership with yourself, with a competitor, with a business whose
  service area does not overlap yours, or across a block;
- one live (proposed, active or paused) partnership per pair;
- proposals alternate: only the side that did not make the open proposal may
  accept, decline or counter it; the proposer may withdraw it;
- accepted terms become an immutable, numbered version;
- only owners and managers change anything (staff may look).
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, func, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from referral import events
from referral.auth.roles import MANAGING_ROLES, require_role
from referral.auth.services import require_verified_business
from referral.businesses.actor import Actor
from referral.businesses.competition import businesses_compete
from referral.businesses.geo import service_areas_overlap
from referral.businesses.models import Business
from referral.db import utcnow
from referral.errors import DomainError, NotFound
from referral.notifications.services import notify_business
from referral.partnerships.models import (
    LIVE_STATUSES,
    PartnerBlock,
    Partnership,
    PartnershipEvent,
    PartnershipStatus,
    Proposal,
    ProposalStatus,
    ProposalTerms,
    TermsVersion,
)
from referral.partnerships.terms import TermsOffer

# One table of allowed transitions per lifecycle (STYLE.md habit 6).
PARTNERSHIP_TRANSITIONS: dict[str, set[str]] = {
    PartnershipStatus.PROPOSED: {
        PartnershipStatus.ACTIVE,
        PartnershipStatus.DECLINED,
        PartnershipStatus.WITHDRAWN,
    },
    PartnershipStatus.ACTIVE: {PartnershipStatus.PAUSED, PartnershipStatus.ENDED},
    PartnershipStatus.PAUSED: {PartnershipStatus.ACTIVE, PartnershipStatus.ENDED},
    PartnershipStatus.DECLINED: set(),
    PartnershipStatus.WITHDRAWN: set(),
    PartnershipStatus.ENDED: set(),
}
PROPOSAL_TRANSITIONS: dict[str, set[str]] = {
    ProposalStatus.OPEN: {
        ProposalStatus.ACCEPTED,
        ProposalStatus.DECLINED,
        ProposalStatus.COUNTERED,
        ProposalStatus.WITHDRAWN,
    },
}


@dataclass(frozen=True)
class TermsPair:
    """Terms for both directions, from the proposer's point of view."""

    they_refer_to_me: TermsOffer  # what the proposer pays the partner
    i_refer_to_them: TermsOffer  # what the partner pays the proposer


def _require_manager(actor: Actor) -> None:
    require_role(actor.role, MANAGING_ROLES, "Only owners and managers can change partnerships.")


def _move(partnership: Partnership, status: PartnershipStatus) -> None:
    if status not in PARTNERSHIP_TRANSITIONS[partnership.status]:
        raise DomainError(f"A {partnership.status} partnership cannot become {status}.")
    partnership.status = status
    partnership.updated_at = utcnow()


def _move_proposal(proposal: Proposal, status: ProposalStatus) -> None:
    if status not in PROPOSAL_TRANSITIONS.get(proposal.status, set()):
        raise DomainError(f"This proposal is already {proposal.status}.")
    proposal.status = status


def _record(
    session: Session, partnership: Partnership, actor: Actor, action: str, note: str = ""
) -> None:
    assert partnership.id is not None
    session.add(
        PartnershipEvent(
            partnership_id=partnership.id,
            business_id=actor.business_id,
            user_id=actor.user_id,
            action=action,
            note=note,
        )
    )


def _notify_other_side(
    session: Session, partnership: Partnership, actor: Actor, kind: str, title: str
) -> None:
    notify_business(
        session=session,
        business_id=partnership.other_id(actor.business_id),
        kind=kind,
        title=title,
        path=f"/partnerships/{partnership.id}",
    )


# --- reading -----------------------------------------------------------------------


def get_partnership(*, session: Session, business_id: int, partnership_id: int) -> Partnership:
    """The partnership if `business_id` is one of its sides; NotFound otherwise."""
    partnership = session.get(Partnership, partnership_id)
    if partnership is None or not partnership.includes(business_id):
        raise NotFound("No such partnership.")
    return partnership


def live_partnership_between(session: Session, a: int, b: int) -> Partnership | None:
    low, high = sorted((a, b))
    return session.exec(
        select(Partnership).where(
            Partnership.business_low_id == low,
            Partnership.business_high_id == high,
            Partnership.status.in_(LIVE_STATUSES),
        )
    ).first()


def open_proposals(session: Session, partnership_ids: Collection[int]) -> dict[int, Proposal]:
    """Each partnership's open proposal (one at most), by partnership id; for a
    page of partnerships in one statement."""
    if not partnership_ids:
        return {}
    rows = session.exec(
        select(Proposal).where(
            Proposal.partnership_id.in_(partnership_ids), Proposal.status == ProposalStatus.OPEN
        )
    )
    return {row.partnership_id: row for row in rows}


def open_proposal(session: Session, partnership: Partnership) -> Proposal | None:
    assert partnership.id is not None
    return open_proposals(session, [partnership.id]).get(partnership.id)


def terms_of_proposals(
    session: Session, proposal_ids: Collection[int]
) -> dict[int, dict[int, ProposalTerms]]:
    """Each proposal's terms keyed by the referrer's business id, by proposal
    id; for many proposals in one statement."""
    if not proposal_ids:
        return {}
    rows = session.exec(
        select(ProposalTerms)
        .where(ProposalTerms.proposal_id.in_(proposal_ids))
        .order_by(ProposalTerms.id)
    )
    terms: dict[int, dict[int, ProposalTerms]] = {}
    for row in rows:
        terms.setdefault(row.proposal_id, {})[row.referrer_id] = row
    return terms


def proposal_terms(session: Session, proposal: Proposal) -> dict[int, ProposalTerms]:
    """The proposal's terms keyed by the referrer's business id."""
    assert proposal.id is not None
    return terms_of_proposals(session, [proposal.id]).get(proposal.id, {})


def latest_version_number(partnership_id: Any) -> Any:
    """SQL for the number of the partnership's version in force (a scalar
    subquery, to join the version within a larger query)."""
    newer = aliased(TermsVersion)
    return (
        select(func.max(newer.number))
        .where(newer.partnership_id == partnership_id)
        .scalar_subquery()
    )


@functools.cache
def _current_versions_query() -> Any:
    """`current_versions`' statement, built once: a fresh alias in each
    statement missed SQLAlchemy's compiled cache, costing more than running it."""
    return select(TermsVersion).where(
        TermsVersion.partnership_id.in_(bindparam("partnership_ids", expanding=True)),
        TermsVersion.number == latest_version_number(TermsVersion.partnership_id),
    )


def current_versions(session: Session, partnership_ids: Collection[int]) -> dict[int, TermsVersion]:
    """Each partnership's version in force (its latest), by partnership id;
    none for a partnership with no agreed terms yet. For a page of
    partnerships in one statement."""
    if not partnership_ids:
        return {}
    rows = session.scalars(_current_versions_query(), {"partnership_ids": list(partnership_ids)})
    return {row.partnership_id: row for row in rows}


def current_version(session: Session, partnership: Partnership) -> TermsVersion | None:
    assert partnership.id is not None
    return current_versions(session, [partnership.id]).get(partnership.id)


def terms_in_force(
    session: Session, partnership: Partnership, *, referrer_id: int
) -> tuple[TermsVersion, ProposalTerms]:
    """The version in force and the terms `referrer_id` earns under it.
    Fails when the partnership has no agreed terms."""
    # One query (sending a referral asks this every time): the latest version,
    # with the referrer's terms from the proposal it adopted.
    row = session.exec(
        select(TermsVersion, ProposalTerms)
        .outerjoin(
            ProposalTerms,
            and_(
                ProposalTerms.proposal_id == TermsVersion.proposal_id,
                ProposalTerms.referrer_id == referrer_id,
            ),
        )
        .where(TermsVersion.partnership_id == partnership.id)
        .order_by(TermsVersion.number.desc())
        .limit(1)
    ).first()
    if row is None:
        raise DomainError("This partnership has no agreed terms yet.")
    version, terms = row
    if terms is None:
        raise KeyError(referrer_id)  # not a side of this partnership
    return version, terms


def partnerships_query(*, business_id: int, statuses: tuple[str, ...] | None = None) -> Any:
    """SQL for the business's partnerships (only `statuses` when given), newest
    first: to read all of them, or one page."""
    query = select(Partnership).where(
        or_(
            Partnership.business_low_id == business_id,
            Partnership.business_high_id == business_id,
        )
    )
    if statuses:
        query = query.where(Partnership.status.in_(statuses))
    return query.order_by(Partnership.id.desc())


def list_partnerships(
    *, session: Session, business_id: int, statuses: tuple[str, ...] | None = None
) -> list[Partnership]:
    return list(session.exec(partnerships_query(business_id=business_id, statuses=statuses)))


def count_active_partnerships(session: Session, business_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Partnership)
            .where(
                Partnership.status == PartnershipStatus.ACTIVE,
                or_(
                    Partnership.business_low_id == business_id,
                    Partnership.business_high_id == business_id,
                ),
            )
        )
        or 0
    )


def is_blocked(session: Session, a: int, b: int) -> bool:
    return (
        session.exec(
            select(PartnerBlock.id).where(
                or_(
                    (PartnerBlock.blocker_id == a) & (PartnerBlock.blocked_id == b),
                    (PartnerBlock.blocker_id == b) & (PartnerBlock.blocked_id == a),
                )
            )
        ).first()
        is not None
    )


# --- proposing and agreeing ----------------------------------------------------------


def _managed_partnership(session: Session, actor: Actor, partnership_id: int) -> Partnership:
    """The actor's partnership, if the actor may change it (owner or manager)."""
    _require_manager(actor)
    return get_partnership(
        session=session, business_id=actor.business_id, partnership_id=partnership_id
    )


def _partner_for(session: Session, actor: Actor, partner_id: int) -> Business:
    """The business `actor` may partner with. Fails on self, unknown, blocked
    (both look like NotFound), competitor or no overlap."""
    partner = session.get(Business, partner_id)
    if partner is None or partner.id == actor.business_id:
        raise NotFound("No such business.")
    if is_blocked(session, actor.business_id, partner_id):
        raise NotFound("No such business.")
    if businesses_compete(session, actor.business, partner):
        raise DomainError("Your trades compete, so you cannot partner with this business.")
    if not service_areas_overlap(actor.business, partner):
        raise DomainError("Your service areas do not overlap.")
    return partner


def _add_proposal(
    session: Session,
    partnership: Partnership,
    actor: Actor,
    *,
    kind: str,
    terms: TermsPair,
    message: str,
) -> Proposal:
    assert partnership.id is not None and actor.user_id is not None
    require_verified_business(session, actor.business_id)
    proposal = Proposal(
        partnership_id=partnership.id,
        kind=kind,
        status=ProposalStatus.OPEN,
        proposed_by_id=actor.business_id,
        proposed_by_user_id=actor.user_id,
        message=message,
    )
    session.add(proposal)
    session.flush()
    assert proposal.id is not None
    partner_id = partnership.other_id(actor.business_id)
    session.add(
        terms.they_refer_to_me.as_row(
            proposal_id=proposal.id, referrer_id=partner_id, payer_id=actor.business_id
        )
    )
    session.add(
        terms.i_refer_to_them.as_row(
            proposal_id=proposal.id, referrer_id=actor.business_id, payer_id=partner_id
        )
    )
    return proposal


def propose_partnership(
    *, session: Session, actor: Actor, partner_id: int, terms: TermsPair, message: str = ""
) -> Partnership:
    """Open a partnership with `partner_id` by proposing terms. Fails when the
    two cannot partner or already have a live partnership."""
    _require_manager(actor)
    partner = _partner_for(session, actor, partner_id)
    assert partner.id is not None
    existing = live_partnership_between(session, actor.business_id, partner.id)
    if existing is not None:
        raise DomainError(
            "You already have a partnership with this business.",
            errors={"partnership_id": [str(existing.id)]},
        )
    low, high = sorted((actor.business_id, partner.id))
    partnership = Partnership(
        business_low_id=low,
        business_high_id=high,
        proposed_by_id=actor.business_id,
        status=PartnershipStatus.PROPOSED,
    )
    session.add(partnership)
    session.flush()
    events.partnership_moved(session, partnership)
    _add_proposal(session, partnership, actor, kind="initial", terms=terms, message=message)
    _record(session, partnership, actor, "proposed", message)
    _notify_other_side(
        session,
        partnership,
        actor,
        "partnership.proposed",
        f"{actor.business.name} proposed a partnership",
    )
    return partnership


def _proposal_to_answer(session: Session, partnership: Partnership, actor: Actor) -> Proposal:
    proposal = open_proposal(session, partnership)
    if proposal is None:
        raise DomainError("There is no open proposal to answer.")
    if proposal.proposed_by_id == actor.business_id:
        raise DomainError("You made this proposal; the other side answers it.")
    return proposal


def accept_proposal(*, session: Session, actor: Actor, partnership_id: int) -> TermsVersion:
    """Accept the open proposal: its terms become the next version in force."""
    partnership = _managed_partnership(session, actor, partnership_id)
    if partnership.status not in LIVE_STATUSES:
        raise DomainError(f"This partnership is {partnership.status}.")
    proposal = _proposal_to_answer(session, partnership, actor)
    _move_proposal(proposal, ProposalStatus.ACCEPTED)
    now = utcnow()
    proposal.responded_at, proposal.responded_by_user_id = now, actor.user_id
    previous = current_version(session, partnership)
    assert partnership.id is not None and proposal.id is not None
    version = TermsVersion(
        partnership_id=partnership.id,
        number=(previous.number + 1) if previous else 1,
        proposal_id=proposal.id,
        effective_at=now,
    )
    session.add(version)
    if partnership.status == PartnershipStatus.PROPOSED:
        _move(partnership, PartnershipStatus.ACTIVE)
        partnership.activated_at = now
        events.partnership_moved(session, partnership)
        _record(session, partnership, actor, "accepted", f"Terms version {version.number}")
        title = f"{actor.business.name} accepted your partnership"
        kind = "partnership.accepted"
    else:
        _record(session, partnership, actor, "amendment_accepted", f"Version {version.number}")
        title = f"{actor.business.name} accepted the new terms (version {version.number})"
        kind = "partnership.amendment_accepted"
    _notify_other_side(session, partnership, actor, kind, title)
    session.flush()
    return version


def decline_proposal(
    *, session: Session, actor: Actor, partnership_id: int, reason: str = ""
) -> Partnership:
    """Decline the open proposal. A declined first proposal closes the
    partnership; a declined amendment leaves the agreed terms in force."""
    partnership = _managed_partnership(session, actor, partnership_id)
    proposal = _proposal_to_answer(session, partnership, actor)
    _move_proposal(proposal, ProposalStatus.DECLINED)
    proposal.responded_at, proposal.responded_by_user_id = utcnow(), actor.user_id
    proposal.decline_reason = reason
    if partnership.status == PartnershipStatus.PROPOSED:
        _move(partnership, PartnershipStatus.DECLINED)
        partnership.ended_at = utcnow()
        _record(session, partnership, actor, "declined", reason)
        title = f"{actor.business.name} declined your partnership proposal"
    else:
        _record(session, partnership, actor, "amendment_declined", reason)
        title = f"{actor.business.name} declined your proposed new terms"
    _notify_other_side(session, partnership, actor, "partnership.declined", title)
    return partnership


def counter_proposal(
    *, session: Session, actor: Actor, partnership_id: int, terms: TermsPair, message: str = ""
) -> Proposal:
    """Answer the open proposal with other terms; the other side answers next."""
    partnership = _managed_partnership(session, actor, partnership_id)
    previous = _proposal_to_answer(session, partnership, actor)
    _move_proposal(previous, ProposalStatus.COUNTERED)
    previous.responded_at, previous.responded_by_user_id = utcnow(), actor.user_id
    session.flush()  # the one-open-proposal index must see the old one closed first
    proposal = _add_proposal(
        session, partnership, actor, kind="counter", terms=terms, message=message
    )
    _record(session, partnership, actor, "countered", message)
    _notify_other_side(
        session,
        partnership,
        actor,
        "partnership.countered",
        f"{actor.business.name} sent a counter-proposal",
    )
    return proposal


def withdraw_proposal(*, session: Session, actor: Actor, partnership_id: int) -> Partnership:
    """Take back my open proposal. A withdrawn first proposal closes the partnership."""
    partnership = _managed_partnership(session, actor, partnership_id)
    proposal = open_proposal(session, partnership)
    if proposal is None or proposal.proposed_by_id != actor.business_id:
        raise DomainError("You have no open proposal here to withdraw.")
    _move_proposal(proposal, ProposalStatus.WITHDRAWN)
    if partnership.status == PartnershipStatus.PROPOSED:
        _move(partnership, PartnershipStatus.WITHDRAWN)
        partnership.ended_at = utcnow()
    _record(session, partnership, actor, "withdrawn")
    _notify_other_side(
        session,
        partnership,
        actor,
        "partnership.withdrawn",
        f"{actor.business.name} withdrew its proposal",
    )
    return partnership


def propose_amendment(
    *, session: Session, actor: Actor, partnership_id: int, terms: TermsPair, message: str = ""
) -> Proposal:
    """Propose new terms for an agreed partnership; they apply once the other side accepts."""
    partnership = _managed_partnership(session, actor, partnership_id)
    if partnership.status not in (PartnershipStatus.ACTIVE, PartnershipStatus.PAUSED):
        raise DomainError(f"A {partnership.status} partnership cannot be amended.")
    if open_proposal(session, partnership) is not None:
        raise DomainError("A proposal is already waiting for an answer.")
    proposal = _add_proposal(
        session, partnership, actor, kind="amendment", terms=terms, message=message
    )
    _record(session, partnership, actor, "amendment_proposed", message)
    _notify_other_side(
        session,
        partnership,
        actor,
        "partnership.amendment_proposed",
        f"{actor.business.name} proposed new terms",
    )
    return proposal


# --- life of a partnership -----------------------------------------------------------


def _change_status(
    session: Session, actor: Actor, partnership_id: int, status: str, action: str, note: str
) -> Partnership:
    partnership = _managed_partnership(session, actor, partnership_id)
    if partnership.status == PartnershipStatus.PROPOSED:
        raise DomainError("This partnership has not been agreed yet.")
    _move(partnership, status)
    _record(session, partnership, actor, action, note)
    _notify_other_side(
        session,
        partnership,
        actor,
        f"partnership.{action}",
        f"{actor.business.name} {action} your partnership",
    )
    return partnership


def pause_partnership(
    *, session: Session, actor: Actor, partnership_id: int, note: str = ""
) -> Partnership:
    """No new referrals either way; open referrals continue under their terms."""
    return _change_status(session, actor, partnership_id, PartnershipStatus.PAUSED, "paused", note)


def resume_partnership(
    *, session: Session, actor: Actor, partnership_id: int, note: str = ""
) -> Partnership:
    return _change_status(session, actor, partnership_id, PartnershipStatus.ACTIVE, "resumed", note)


def end_partnership(
    *, session: Session, actor: Actor, partnership_id: int, note: str = ""
) -> Partnership:
    """End for good: a new agreement is needed to work together again.
    An amendment still waiting is withdrawn."""
    partnership = _change_status(
        session, actor, partnership_id, PartnershipStatus.ENDED, "ended", note
    )
    partnership.ended_at = utcnow()
    waiting = open_proposal(session, partnership)
    if waiting is not None:
        _move_proposal(waiting, ProposalStatus.WITHDRAWN)
    return partnership


def block_business(*, session: Session, actor: Actor, business_id: int) -> PartnerBlock:
    """Hide `business_id` from me and me from it. A live partnership between
    us ends (or, if only proposed, is withdrawn)."""
    _require_manager(actor)
    other = session.get(Business, business_id)
    if other is None or other.id == actor.business_id:
        raise NotFound("No such business.")
    existing = session.exec(
        select(PartnerBlock).where(
            PartnerBlock.blocker_id == actor.business_id, PartnerBlock.blocked_id == business_id
        )
    ).first()
    if existing is not None:
        return existing
    live = live_partnership_between(session, actor.business_id, business_id)
    if live is not None:
        assert live.id is not None
        live.status = (
            PartnershipStatus.WITHDRAWN
            if live.status == PartnershipStatus.PROPOSED
            else PartnershipStatus.ENDED
        )
        live.ended_at = live.updated_at = utcnow()
        waiting = open_proposal(session, live)
        if waiting is not None:
            waiting.status = ProposalStatus.WITHDRAWN
        _record(session, live, actor, "blocked")
    block = PartnerBlock(blocker_id=actor.business_id, blocked_id=business_id)
    session.add(block)
    session.flush()
    return block


def unblock_business(*, session: Session, actor: Actor, business_id: int) -> None:
    _require_manager(actor)
    block = session.exec(
        select(PartnerBlock).where(
            PartnerBlock.blocker_id == actor.business_id, PartnerBlock.blocked_id == business_id
        )
    ).first()
    if block is None:
        raise NotFound("You have not blocked this business.")
    session.delete(block)
