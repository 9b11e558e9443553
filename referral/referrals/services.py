"""Every write to a referral, and the rules that guard it.

- Only to an active partner whose trade does not compete with the sender's.
- The same customer to the same partner at most once in 30 days.
- No personal data moves before the customer's consent is recorded; the
  receiver sees contact details only after accepting, and never after the
  consent is withdrawn.
- One table of allowed transitions; each transition is recorded and the
  other side is notified.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, func, literal, null, or_
from sqlmodel import Session, select

from referral import events
from referral.audit.models import AuditEvent
from referral.auth.services import VERIFY_FIRST, verified_owner
from referral.businesses.actor import Actor
from referral.businesses.competition import competition_listed
from referral.businesses.models import Business, Trade
from referral.consent import services as consent
from referral.consent import visibility
from referral.consent.models import ConsentMethod, ConsentRecord
from referral.consent.visibility import OWNER_SIGHT, ConsentState, Sight, Stage
from referral.customers.models import Customer
from referral.db import keep_loaded, utcnow
from referral.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from referral.jobs.queue import enqueue
from referral.money import MAX_JOB_CENTS, range_message
from referral.notifications.services import notify_business
from referral.partnerships.models import (
    LIVE_STATUSES,
    Partnership,
    PartnershipStatus,
    Proposal,
    ProposalTerms,
    TermsVersion,
)
from referral.partnerships.services import latest_version_number, proposal_terms
from referral.referrals import outcomes
from referral.referrals.models import STATUSES, Referral, ReferralEvent, ReferralStatus

ALL_STATUSES = STATUSES
DUPLICATE_WINDOW = dt.timedelta(days=30)
OPEN_STATUSES = (ReferralStatus.AWAITING_CONSENT, ReferralStatus.SENT, ReferralStatus.ACCEPTED)

TRANSITIONS: dict[str, set[str]] = {
    ReferralStatus.AWAITING_CONSENT: {
        ReferralStatus.SENT,
        ReferralStatus.DECLINED_BY_CUSTOMER,
        ReferralStatus.WITHDRAWN,
        ReferralStatus.EXPIRED,
    },
    ReferralStatus.SENT: {
        ReferralStatus.ACCEPTED,
        ReferralStatus.DECLINED,
        ReferralStatus.EXPIRED,
        ReferralStatus.WITHDRAWN,
    },
    ReferralStatus.ACCEPTED: {ReferralStatus.WON, ReferralStatus.LOST, ReferralStatus.WITHDRAWN},
}


@dataclass(frozen=True)
class NewReferral:
    """Validated input for sending a referral."""

    partner_id: int
    customer_id: int
    need: str
    urgency: str
    preferred_contact_time: str = ""
    consent_method: str = ConsentMethod.EMAIL_LINK
    attested_on: dt.date | None = None
    evidence_sha256: str = ""
    evidence_content_type: str = ""
    evidence_size: int | None = None
    idempotency_key: str | None = None

    def __post_init__(self) -> None:
        # A campaign click is the customer's own yes on an offer's page
        # (referral.referrals.consented), never a method a sender chooses.
        if self.consent_method == ConsentMethod.CAMPAIGN_CLICK:
            raise ValidationFailed(
                "Some fields are not valid.",
                errors={"consent_method": ["Only the customer gives this consent."]},
            )


def _move(
    session: Session,
    referral: Referral,
    status: ReferralStatus,
    *,
    action: str,
    business_id: int | None,
    user_id: int | None,
    note: str = "",
) -> None:
    if status not in TRANSITIONS.get(referral.status, set()):
        raise DomainError(
            f"A referral that is {referral.status.replace('_', ' ')} cannot be {action}."
        )
    assert referral.id is not None
    session.add(
        ReferralEvent(
            referral_id=referral.id,
            business_id=business_id,
            user_id=user_id,
            action=action,
            from_status=referral.status,
            to_status=status,
            note=note,
        )
    )
    referral.status = status
    referral.updated_at = utcnow()
    if status not in OPEN_STATUSES:
        referral.closed_at = referral.updated_at
    # After the referral is wholly moved: its reactions read the database,
    # which flushes it, and a change after that would be a second UPDATE.
    events.referral_moved(session, referral)


def _notify(session: Session, business_id: int, referral: Referral, kind: str, title: str) -> None:
    notify_business(
        session=session,
        business_id=business_id,
        kind=kind,
        title=title,
        path=f"/referrals/{referral.id}",
    )


def get_referral(*, session: Session, business_id: int, referral_id: int) -> Referral:
    """The referral if `business_id` sent or received it; NotFound otherwise."""
    referral = session.get(Referral, referral_id)
    if referral is None or business_id not in (referral.sender_id, referral.receiver_id):
        raise NotFound("No such referral.")
    return referral


# Where a referral's receiver stands, by the referral's status (the consent
# in force and erasure are the rule's other inputs).
RECEIVER_STAGES = {
    ReferralStatus.AWAITING_CONSENT: Stage.AWAITING_CONSENT,
    ReferralStatus.DECLINED_BY_CUSTOMER: Stage.REFUSED,
    ReferralStatus.SENT: Stage.OFFERED,
    ReferralStatus.ACCEPTED: Stage.TAKEN,
    ReferralStatus.WON: Stage.TAKEN,
    ReferralStatus.LOST: Stage.TAKEN,
    ReferralStatus.DECLINED: Stage.DECLINED,
    ReferralStatus.EXPIRED: Stage.EXPIRED,
    ReferralStatus.WITHDRAWN: Stage.CLOSED,
}


def customer_sight(
    session: Session,
    referral: Referral,
    business_id: int,
    *,
    consent_state: ConsentState | None = None,
) -> Sight:
    """What `business_id` may see of the referral's customer: everything for
    the sender (its own customer), the visibility rule's answer for the receiver.
    A list that read each referral's consent state with it passes it, and
    loads its customers first (`load_customers`), so that no row asks again."""
    if business_id == referral.sender_id:
        return OWNER_SIGHT
    customer = session.get(Customer, referral.customer_id)
    return visibility.receiver_sight(
        stage=RECEIVER_STAGES[referral.status],
        consent=(
            consent.consent_state(session, referral.id or 0)
            if consent_state is None
            else consent_state
        ),
        erased=customer is None or customer.erased_at is not None,
    )


def customer_in_sight(
    session: Session,
    referral: Referral,
    business_id: int,
    *,
    consent_state: ConsentState | None = None,
) -> tuple[Sight, Customer | None]:
    """The sight, and the customer when it shows them (a page or answer that
    shows the customer). The customer is read first and held while the sight
    reads it too: the session keeps a row only while something refers to it,
    so it was read twice."""
    customer = session.get(Customer, referral.customer_id)
    sight = customer_sight(session, referral, business_id, consent_state=consent_state)
    return sight, customer if sight.identity else None


def load_customers(session: Session, referrals: Iterable[Referral]) -> list[Customer]:
    """The referrals' customers in one statement. Hold the list while the
    referrals are shown: `session.get` then finds each without asking."""
    ids = {referral.customer_id for referral in referrals}
    if not ids:
        return []
    return list(session.exec(select(Customer).where(Customer.id.in_(ids))))  # type: ignore[union-attr]


def contact_visible_to(session: Session, referral: Referral, business_id: int) -> bool:
    """May this business see the customer's contact details on this referral?"""
    return customer_sight(session, referral, business_id).identity


def record_contact_view(*, session: Session, referral: Referral, user_id: int | None) -> None:
    """The receiver looked at the customer's contact details: the sender (whose
    customer it is) sees that in its audit trail."""
    session.add(
        AuditEvent(
            owner_business_id=referral.sender_id,
            actor_business_id=referral.receiver_id,
            actor_user_id=user_id,
            action="contact_viewed",
            subject=f"referral:{referral.id}",
        )
    )


def recent_referral(
    session: Session, customer_id: int, receiver_id: int, now: dt.datetime
) -> int | None:
    """The id of an open or answered referral of the customer to the receiver
    within the duplicate window, if any."""
    found: int | None = session.scalar(
        select(_recent_referral_id(customer_id, receiver_id, since=now - DUPLICATE_WINDOW))
    )
    return found


def _recent_referral_id(customer_id: Any, receiver_id: Any, *, since: Any) -> Any:
    """SQL for the first open or answered referral of the customer to the
    receiver created after `since` (a scalar subquery; values or bound parameters)."""
    return (
        select(Referral.id)
        .where(
            Referral.customer_id == customer_id,
            Referral.receiver_id == receiver_id,
            Referral.created_at > since,
            Referral.status.not_in(
                (
                    ReferralStatus.DECLINED_BY_CUSTOMER,
                    ReferralStatus.WITHDRAWN,
                    ReferralStatus.EXPIRED,
                )
            ),
        )
        .order_by(Referral.id)
        .limit(1)
        .scalar_subquery()
    )


@dataclass(frozen=True)
class SendingFacts:
    """All a new referral is checked against, read in one statement
    (`look_up_sending`): the sender's standing, the referral an earlier
    request with the same Idempotency-Key made, the sender's customer, the
    receiver with its trade (held here for the consent text, which names it),
    the live partnership between the two, the sender's terms under the version
    in force, whether their trades compete, and an earlier referral of the
    customer to the receiver within 30 days."""

    sender_verified: bool
    replayed_referral_id: int | None
    customer: Customer | None
    receiver: Business | None
    receiver_trade: Trade | None
    partnership: Partnership | None
    version: TermsVersion | None
    terms: ProposalTerms | None
    competes: bool
    earlier_referral_id: int | None


@dataclass(frozen=True)
class Route:
    """Where a checked referral goes: an active partner, not a competitor."""

    receiver: Business
    partnership: Partnership


@functools.cache
def _sending_query(with_customer: bool, with_key: bool) -> Any:
    """`look_up_sending`'s statement for each shape of request, built once: it
    runs for every referral sent, and building it cost more than running it."""
    sender_id = bindparam("sender_id")
    partner_id = bindparam("partner_id")
    sender_trade = bindparam("sender_trade_id")
    customer_id = bindparam("customer_id") if with_customer else None
    one = select(literal(1).label("one")).subquery()
    earlier = (
        _recent_referral_id(customer_id, partner_id, since=bindparam("since"))
        if with_customer
        else null()
    )
    replayed = (
        select(Referral.id)
        .where(
            Referral.sender_id == sender_id,
            Referral.idempotency_key == bindparam("idempotency_key"),
        )
        .scalar_subquery()
        if with_key
        else null()
    )
    return (
        select(
            verified_owner(sender_id).label("sender_verified"),
            replayed.label("replayed_referral_id"),
            Customer,
            Business,
            Trade,
            Partnership,
            TermsVersion,
            ProposalTerms,
            or_(
                Business.trade_id == sender_trade,
                competition_listed(sender_trade, Business.trade_id),
            ).label("competes"),
            earlier.label("earlier_referral_id"),
        )
        .select_from(one)
        # Only the sender's own: another business's customer is not found
        # (with no customer_id, `customer.id IS NULL` joins none).
        .outerjoin(
            Customer,
            and_(
                Customer.id == customer_id,
                Customer.business_id == sender_id,
            ),
        )
        .outerjoin(Business, Business.id == partner_id)
        .outerjoin(Trade, Trade.id == Business.trade_id)
        .outerjoin(
            Partnership,
            and_(
                Business.id.is_not(None),  # type: ignore[union-attr]
                Partnership.business_low_id == bindparam("low_id"),
                Partnership.business_high_id == bindparam("high_id"),
                Partnership.status.in_(LIVE_STATUSES),  # type: ignore[attr-defined]
            ),
        )
        .outerjoin(
            TermsVersion,
            and_(
                TermsVersion.partnership_id == Partnership.id,
                TermsVersion.number == latest_version_number(Partnership.id),
            ),
        )
        .outerjoin(
            ProposalTerms,
            and_(
                ProposalTerms.proposal_id == TermsVersion.proposal_id,
                ProposalTerms.referrer_id == sender_id,
            ),
        )
    )


def look_up_sending(
    session: Session,
    actor: Actor,
    *,
    partner_id: int,
    customer_id: int | None,
    idempotency_key: str | None,
    now: dt.datetime,
) -> SendingFacts:
    """One statement for every check `send_referral` makes before writing
    (`customer_id` None: a customer created in this request, who has no
    earlier referral). Always one row: a receiver that does not exist comes
    back as None, with the sender's standing."""
    low, high = sorted((actor.business_id, partner_id))
    query = _sending_query(customer_id is not None, idempotency_key is not None)
    parameters = {
        "sender_id": actor.business_id,
        "sender_trade_id": actor.business.trade_id,
        "partner_id": partner_id,
        "customer_id": customer_id,
        "idempotency_key": idempotency_key,
        "low_id": low,
        "high_id": high,
        "since": now - DUPLICATE_WINDOW,
    }
    row = session.execute(query, parameters).one()
    return SendingFacts(
        sender_verified=bool(row.sender_verified),
        replayed_referral_id=row.replayed_referral_id,
        customer=row.Customer,
        receiver=row.Business,
        receiver_trade=row.Trade,
        partnership=row.Partnership,
        version=row.TermsVersion,
        terms=row.ProposalTerms,
        competes=bool(row.competes),
        earlier_referral_id=row.earlier_referral_id,
    )


def check_sender(actor: Actor, facts: SendingFacts) -> None:
    """Whoever sends: a role that may, in a business whose owner confirmed
    their email."""
    if actor.role not in ("owner", "manager", "staff"):
        raise PermissionDenied("Your role cannot send referrals.")
    if not facts.sender_verified:
        raise PermissionDenied(VERIFY_FIRST)


def check_route(actor: Actor, facts: SendingFacts) -> Route:
    """An active partner whose trade does not compete with the sender's."""
    receiver = facts.receiver
    if receiver is None or receiver.id == actor.business_id:
        raise NotFound("No such business.")
    partnership = facts.partnership
    if partnership is None or partnership.status != PartnershipStatus.ACTIVE:
        state = partnership.status if partnership else "not agreed"
        raise DomainError(
            f"You can refer customers only to active partners; this partnership is {state}.",
            errors={"partner_id": ["Not an active partner."]},
        )
    if facts.competes:
        raise DomainError("Your trades compete, so you cannot refer customers to this business.")
    return Route(receiver=receiver, partnership=partnership)


def customer_to_refer(session: Session, route: Route, facts: SendingFacts) -> Customer:
    """The sender's own customer, not erased, not referred to this partner in
    the last 30 days. Kept in the session for the request: the answer shows it."""
    customer = facts.customer
    if customer is None:
        raise NotFound("No such customer.")
    keep_loaded(session, customer)
    if customer.erased_at is not None:
        raise DomainError("This customer was erased.")
    if facts.earlier_referral_id is not None:
        raise DomainError(
            f"You referred this customer to {route.receiver.name} less than 30 days ago.",
            errors={"referral_id": [str(facts.earlier_referral_id)]},
        )
    return customer


def terms_of(facts: SendingFacts) -> tuple[TermsVersion, ProposalTerms]:
    """The version in force and the sender's terms under it (as `terms_in_force`)."""
    if facts.version is None:
        raise DomainError("This partnership has no agreed terms yet.")
    if facts.terms is None:
        raise KeyError(facts.version.partnership_id)  # the sender is not a side of it
    return facts.version, facts.terms


def create_referral(
    session: Session,
    actor: Actor,
    data: NewReferral,
    *,
    route: Route,
    version: TermsVersion,
    customer: Customer,
) -> Referral:
    """The referral row, awaiting consent, and its first event. One INSERT now
    (the consent and the event need its id); the event is written with the rest."""
    referral = Referral(
        sender_id=actor.business_id,
        receiver_id=route.receiver.id,
        partnership_id=route.partnership.id,
        terms_version_id=version.id,
        customer_id=customer.id,
        created_by_user_id=actor.user_id,
        need=data.need,
        urgency=data.urgency,
        preferred_contact_time=data.preferred_contact_time,
        consent_method=data.consent_method,
        status=ReferralStatus.AWAITING_CONSENT,
        idempotency_key=data.idempotency_key,
    )
    session.add(referral)
    session.flush()
    session.add(
        ReferralEvent(
            referral_id=referral.id,
            business_id=actor.business_id,
            user_id=actor.user_id,
            action="created",
            to_status=ReferralStatus.AWAITING_CONSENT,
        )
    )
    return referral


def consent_and_deliver(
    session: Session,
    actor: Actor,
    data: NewReferral,
    *,
    referral: Referral,
    route: Route,
    terms: ProposalTerms,
    customer: Customer,
) -> None:
    """With `email_link` the customer is asked and nothing moves yet; with an
    attested method the consent is recorded and the partner told at once."""
    if data.consent_method == ConsentMethod.EMAIL_LINK:
        consent.request_consent(
            session,
            referral=referral,
            customer=customer,
            referrer=actor.business,
            receiver=route.receiver,
        )
        return
    text = consent.consent_text(
        session,
        referrer=actor.business,
        receiver=route.receiver,
        customer=customer,
        need=data.need,
    )
    consent.add_consent_record(
        session,
        referral=referral,
        customer=customer,
        text=text,
        purpose=data.need,
        method=data.consent_method,
        decision="given",
        attested_by_user_id=actor.user_id,
        attested_on=data.attested_on,
        evidence_sha256=data.evidence_sha256,
        evidence_content_type=data.evidence_content_type,
        evidence_size=data.evidence_size,
    )
    _deliver(session, referral, route.receiver, terms.response_window_hours, actor=actor)


def send_referral(*, session: Session, actor: Actor, data: NewReferral) -> Referral:
    """Refer a customer to an active partner. With `email_link` the customer is
    asked first; with an attested method the consent is recorded now and the
    partner is told at once. Fails on a partnership that is not active, a
    competitor, another business's customer, or a duplicate within 30 days.

    The checks come in this order, each its own step; what they read is one
    statement (`look_up_sending`), then the writes."""
    now = utcnow()
    facts = look_up_sending(
        session,
        actor,
        partner_id=data.partner_id,
        customer_id=data.customer_id,
        idempotency_key=data.idempotency_key,
        now=now,
    )
    check_sender(actor, facts)
    if facts.replayed_referral_id is not None:
        # The same request again (a retry): the referral it made, unchanged.
        existing = session.get(Referral, facts.replayed_referral_id)
        assert existing is not None
        return existing
    if data.consent_method != ConsentMethod.EMAIL_LINK:
        # The forms and the API require the day; a service caller may omit it.
        consent.check_attested_on(data.attested_on, required=False)
    route = check_route(actor, facts)
    customer = customer_to_refer(session, route, facts)
    version, terms = terms_of(facts)
    referral = create_referral(
        session, actor, data, route=route, version=version, customer=customer
    )
    consent_and_deliver(
        session, actor, data, referral=referral, route=route, terms=terms, customer=customer
    )
    return referral


def _response_window(session: Session, referral: Referral) -> int:
    """Hours the receiver has to answer, from the terms version the referral locked."""
    version = session.get(TermsVersion, referral.terms_version_id)
    assert version is not None
    proposal = session.get(Proposal, version.proposal_id)
    assert proposal is not None
    return proposal_terms(session, proposal)[referral.sender_id].response_window_hours


def _deliver(
    session: Session,
    referral: Referral,
    receiver: Business,
    response_window_hours: int,
    *,
    actor: Actor | None,
) -> None:
    """Consent is in place: the partner sees the referral (without contact
    details until it accepts) and must answer within the response window."""
    now = utcnow()
    # Before the move, whose reactions flush the referral (one UPDATE, not two).
    referral.sent_at = now
    referral.respond_by = now + dt.timedelta(hours=response_window_hours)
    _move(
        session,
        referral,
        ReferralStatus.SENT,
        action="sent",
        business_id=actor.business_id if actor else None,
        user_id=actor.user_id if actor else None,
    )
    enqueue(session, "referral.expire", {"referral_id": referral.id}, run_at=referral.respond_by)
    sender = session.get(Business, referral.sender_id)
    _notify(
        session,
        receiver.id or 0,
        referral,
        "referral.received",
        f"{sender.name if sender else 'A partner'} referred a customer to you",
    )


def answer_consent(
    *, session: Session, token: str, yes: bool, ip: str = "", user_agent: str = ""
) -> Referral:
    """The customer's answer through the emailed link. Yes records the consent
    and sends the referral; No closes it. Fails on a used or expired link."""
    request = consent.open_consent_request(session, token)
    referral = session.get(Referral, request.referral_id)
    customer = session.get(Customer, request.customer_id)
    assert referral is not None and customer is not None
    referrer = session.get(Business, referral.sender_id)
    receiver = session.get(Business, referral.receiver_id)
    assert referrer is not None and receiver is not None
    if referral.status != ReferralStatus.AWAITING_CONSENT:
        raise DomainError("This request is closed.")
    consent.claim_consent_request(session, request)
    text = consent.consent_text(
        session, referrer=referrer, receiver=receiver, customer=customer, need=referral.need
    )
    consent.add_consent_record(
        session,
        referral=referral,
        customer=customer,
        text=text,
        purpose=referral.need,
        method=ConsentMethod.EMAIL_LINK,
        decision="given" if yes else "refused",
        ip=ip,
        user_agent=user_agent,
    )
    if yes:
        _deliver(session, referral, receiver, _response_window(session, referral), actor=None)
        _notify(
            session,
            referrer.id or 0,
            referral,
            "referral.consented",
            f"{customer.name} agreed to be referred to {receiver.name}",
        )
    else:
        _move(
            session,
            referral,
            ReferralStatus.DECLINED_BY_CUSTOMER,
            action="refused by the customer",
            business_id=None,
            user_id=None,
        )
        _notify(
            session,
            referrer.id or 0,
            referral,
            "referral.consent_refused",
            f"{customer.name} declined to be referred to {receiver.name}",
        )
    return referral


def _receiver_action(session: Session, actor: Actor, referral_id: int) -> Referral:
    referral = get_referral(session=session, business_id=actor.business_id, referral_id=referral_id)
    if referral.receiver_id != actor.business_id:
        raise DomainError("Only the business the customer was referred to can do this.")
    return referral


def accept_referral(*, session: Session, actor: Actor, referral_id: int) -> Referral:
    """Accept: the customer's contact details become visible to the receiver."""
    referral = _receiver_action(session, actor, referral_id)
    if referral.status == ReferralStatus.SENT and not consent.consent_in_force(
        session, referral_id
    ):
        raise DomainError("The customer has withdrawn their consent.")
    referral.accepted_at = utcnow()  # before the move: its reactions flush the referral
    _move(
        session,
        referral,
        ReferralStatus.ACCEPTED,
        action="accepted",
        business_id=actor.business_id,
        user_id=actor.user_id,
    )
    outcomes.reached(session, referral, "accepted")
    _notify(
        session,
        referral.sender_id,
        referral,
        "referral.accepted",
        f"{actor.business.name} accepted your referral",
    )
    return referral


def decline_referral(
    *, session: Session, actor: Actor, referral_id: int, reason: str = ""
) -> Referral:
    referral = _receiver_action(session, actor, referral_id)
    referral.decline_reason = reason  # before the move, as accept's accepted_at
    _move(
        session,
        referral,
        ReferralStatus.DECLINED,
        action="declined",
        business_id=actor.business_id,
        user_id=actor.user_id,
        note=reason,
    )
    _notify(
        session,
        referral.sender_id,
        referral,
        "referral.declined",
        f"{actor.business.name} declined your referral",
    )
    return referral


def report_won(
    *, session: Session, actor: Actor, referral_id: int, job_value_cents: int, job_date: dt.date
) -> Referral:
    """The receiver won the job. Fails on a negative value or an unaccepted referral."""
    if not 0 <= job_value_cents <= MAX_JOB_CENTS:
        raise ValidationFailed(
            "A job value is from $0.00 to $100,000,000.00.",
            errors={"job_value_cents": [range_message(0, MAX_JOB_CENTS)]},
        )
    referral = _receiver_action(session, actor, referral_id)
    referral.job_value_cents, referral.job_date = job_value_cents, job_date  # before the event
    _move(
        session,
        referral,
        ReferralStatus.WON,
        action="won",
        business_id=actor.business_id,
        user_id=actor.user_id,
    )
    outcomes.reached(session, referral, "won")
    _notify(
        session,
        referral.sender_id,
        referral,
        "referral.won",
        f"{actor.business.name} won the job you referred",
    )
    return referral


def report_lost(*, session: Session, actor: Actor, referral_id: int, reason: str = "") -> Referral:
    referral = _receiver_action(session, actor, referral_id)
    _move(
        session,
        referral,
        ReferralStatus.LOST,
        action="lost",
        business_id=actor.business_id,
        user_id=actor.user_id,
        note=reason,
    )
    _notify(
        session,
        referral.sender_id,
        referral,
        "referral.lost",
        f"{actor.business.name} did not win the job you referred",
    )
    return referral


def withdraw_referral(*, session: Session, actor: Actor, referral_id: int) -> Referral:
    """The sender takes the referral back while it is open."""
    referral = get_referral(session=session, business_id=actor.business_id, referral_id=referral_id)
    if referral.sender_id != actor.business_id:
        raise DomainError("Only the business that sent the referral can withdraw it.")
    _move(
        session,
        referral,
        ReferralStatus.WITHDRAWN,
        action="withdrawn",
        business_id=actor.business_id,
        user_id=actor.user_id,
    )
    _notify(
        session,
        referral.receiver_id,
        referral,
        "referral.withdrawn",
        f"{actor.business.name} withdrew a referral",
    )
    return referral


def withdraw_consent_by_link(*, session: Session, token: str) -> Referral:
    """The customer withdraws: the receiver loses the contact details at once,
    the referral closes if it is open, and both businesses are told."""
    record = consent.record_from_withdrawal_token(session, token)
    referral = session.get(Referral, record.referral_id)
    assert referral is not None
    if consent.withdraw(session, record):
        if referral.status in OPEN_STATUSES:
            _move(
                session,
                referral,
                ReferralStatus.WITHDRAWN,
                action="consent withdrawn",
                business_id=None,
                user_id=None,
            )
        for business_id in (referral.sender_id, referral.receiver_id):
            _notify(
                session,
                business_id,
                referral,
                "referral.consent_withdrawn",
                "A customer withdrew their consent to share their details",
            )
    return referral


def expire_referral(*, session: Session, referral: Referral) -> None:
    _move(
        session, referral, ReferralStatus.EXPIRED, action="expired", business_id=None, user_id=None
    )
    _notify(
        session,
        referral.sender_id,
        referral,
        "referral.expired",
        "A referral expired without an answer",
    )


def expire_overdue(*, session: Session, now: dt.datetime | None = None) -> int:
    """Close referrals whose partner did not answer within the response window
    (each also has a job at its deadline; this sweeps any that were missed)."""
    now = now or utcnow()
    overdue = session.exec(
        select(Referral).where(Referral.status == ReferralStatus.SENT, Referral.respond_by < now)
    ).all()
    for referral in overdue:
        expire_referral(session=session, referral=referral)
    return len(overdue)


def customer_erased(*, session: Session, customer: Customer) -> None:
    """The owning business erased a customer: open referrals are withdrawn and
    every business that received one is told."""
    referrals = session.exec(select(Referral).where(Referral.customer_id == customer.id)).all()
    told: set[int] = set()
    for referral in referrals:
        if referral.status in OPEN_STATUSES:
            _move(
                session,
                referral,
                ReferralStatus.WITHDRAWN,
                action="customer erased",
                business_id=None,
                user_id=None,
            )
        if referral.receiver_id not in told and referral.status != ReferralStatus.AWAITING_CONSENT:
            told.add(referral.receiver_id)
            _notify(
                session,
                referral.receiver_id,
                referral,
                "referral.customer_erased",
                "A customer you were referred has been erased at their request",
            )


@dataclass(frozen=True)
class Claim:
    referral_id: int
    sender_id: int
    consented_at: dt.datetime
    credited: bool


def attribution(session: Session, referral: Referral) -> list[Claim]:
    """Every consented referral of the same person (matched on email or phone)
    to the same business, earliest consent first; the earliest is credited."""
    customer = session.get(Customer, referral.customer_id)
    if customer is None or customer.erased_at is not None:
        return []
    matches = [Customer.email == customer.email] if customer.email else []
    if customer.phone:
        matches.append(Customer.phone == customer.phone)
    if not matches:
        return []
    rows = session.exec(
        select(Referral.id, Referral.sender_id, func.min(ConsentRecord.created_at))
        .join(Customer, Customer.id == Referral.customer_id)
        .join(ConsentRecord, ConsentRecord.referral_id == Referral.id)
        .where(
            Referral.receiver_id == referral.receiver_id,
            ConsentRecord.decision == "given",
            or_(*matches),
        )
        .group_by(Referral.id, Referral.sender_id)
        .order_by(func.min(ConsentRecord.created_at), Referral.id)
    ).all()
    return [
        Claim(referral_id=r[0], sender_id=r[1], consented_at=r[2], credited=index == 0)
        for index, r in enumerate(rows)
    ]
