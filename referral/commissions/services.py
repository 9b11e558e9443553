"""Commissions: accrual from the locked terms, the hold, approval and adjustments.

Every change of what is owed writes a balanced ledger transaction in the same
database transaction as the change itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from sqlmodel import Session, select

from referral import events
from referral.commissions.models import Commission, CommissionStatus, either_side_is
from referral.db import utcnow
from referral.errors import DomainError, NotFound, ValidationFailed
from referral.jobs.queue import enqueue
from referral.ledger.services import Posting, pair, post, post_all
from referral.money import MAX_JOB_CENTS, apply_basis_points, format_cents, range_message
from referral.notifications.services import notify_business
from referral.partnerships.models import ProposalTerms, TermsVersion
from referral.referrals.models import Referral, ReferralStatus

APPROVE_COMMISSION = "commission.approve"
# Statuses whose amount sits in the approved accounts (receivable / payable).
APPROVED_STAGE = (
    CommissionStatus.APPROVED,
    CommissionStatus.SETTLING,
    CommissionStatus.PAID,
    CommissionStatus.HELD,
    CommissionStatus.CLOSED,
)


def terms_for(session: Session, referral: Referral) -> ProposalTerms:
    """The terms of the version locked on the referral, for its direction, in
    one statement (was two: the version, then its proposal's terms)."""
    terms = session.exec(
        select(ProposalTerms)
        .join(TermsVersion, TermsVersion.proposal_id == ProposalTerms.proposal_id)
        .where(
            TermsVersion.id == referral.terms_version_id,
            ProposalTerms.referrer_id == referral.sender_id,
        )
    ).one()
    return terms  # type: ignore[no-any-return]


def full_amount(commission: Commission) -> int:
    """The commission on the whole job value, before refunds."""
    if commission.basis == "percent":
        amount = apply_basis_points(commission.base_cents, commission.rate_bps or 0)
    else:
        amount = commission.flat_fee_cents or 0
    if commission.cap_cents is not None:
        amount = min(amount, commission.cap_cents)
    return amount


def current_amount(commission: Commission) -> int:
    """The full amount reduced pro rata by refunds, rounded half up to the cent."""
    full = full_amount(commission)
    if commission.trigger == "accepted" or commission.refunded_cents == 0:
        return full
    if commission.base_cents == 0:
        return 0
    kept = Decimal(full) * (commission.base_cents - commission.refunded_cents)
    return int((kept / commission.base_cents).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _accounts(commission: Commission) -> tuple[str, str]:
    if commission.status == CommissionStatus.PENDING:
        return "pending_receivable", "pending_payable"
    return "receivable", "payable"


def _post_change(session: Session, commission: Commission, delta: int, kind: str, memo: str):  # type: ignore[no-untyped-def]
    """Move `delta` cents of what the payer owes the referrer into the ledger."""
    receivable, payable = _accounts(commission)
    post(
        session,
        kind,
        pair(
            delta,
            debit=receivable,
            credit=payable,
            debit_business=commission.payer_id,
            credit_business=commission.referrer_id,
            partnership_id=commission.partnership_id,
        ),
        currency=commission.currency,
        memo=memo,
        commission_id=commission.id,
    )


def accrue(session: Session, referral: Referral, trigger: str) -> Commission | None:
    """The commission a referral earns when it is `trigger`ed (won or accepted), if
    its terms pay for that. Idempotent: a second call returns the first commission."""
    terms = terms_for(session, referral)
    pays_on = "accepted" if terms.basis == "flat_per_accepted" else "won"
    if pays_on != trigger:
        return None
    existing = session.exec(
        select(Commission).where(
            Commission.referral_id == referral.id, Commission.trigger == trigger
        )
    ).first()
    if existing is not None:
        return existing  # type: ignore[no-any-return]
    now = utcnow()
    commission = Commission(
        referral_id=referral.id,
        partnership_id=referral.partnership_id,
        terms_version_id=referral.terms_version_id,
        referrer_id=referral.sender_id,
        payer_id=referral.receiver_id,
        trigger=trigger,
        basis=terms.basis,
        rate_bps=terms.rate_bps,
        flat_fee_cents=terms.flat_fee_cents,
        cap_cents=terms.cap_cents,
        base_cents=(referral.job_value_cents or 0) if trigger == "won" else 0,
        amount_cents=0,
        currency=terms.currency,
        status=CommissionStatus.PENDING,
        hold_until=now + dt.timedelta(days=terms.hold_days),
        updated_at=now,
    )
    commission.amount_cents = current_amount(commission)
    session.add(commission)
    session.flush()
    _post_change(session, commission, commission.amount_cents, "accrual", f"referral {referral.id}")
    if terms.hold_days == 0:
        approve(session, commission)
    else:
        enqueue(
            session,
            APPROVE_COMMISSION,
            {"commission_id": commission.id},
            run_at=commission.hold_until,
        )
    notify_business(
        session=session,
        business_id=commission.referrer_id,
        kind="commission.accrued",
        title=f"Commission of {format_cents(commission.amount_cents, commission.currency)}"
        f" accrued on referral #{referral.id}",
        path="/commissions",
    )
    return commission


def approve(session: Session, commission: Commission, *, now: dt.datetime | None = None) -> bool:
    """Approve a commission whose hold has passed. False when it is not due (or done)."""
    return approve_all(session, [commission], now=now) == 1


def approve_all(
    session: Session, commissions: Sequence[Commission], *, now: dt.datetime | None = None
) -> int:
    """Approve those of `commissions` whose hold has passed, each as `approve`
    would, with one read of webhook endpoints and batched writes for all
    (settle now approves a business's due commissions in one request); how many."""
    now = now or utcnow()
    due = [c for c in commissions if c.status == CommissionStatus.PENDING and c.hold_until <= now]
    for commission in due:
        commission.status, commission.approved_at, commission.updated_at = (
            CommissionStatus.APPROVED,
            now,
            now,
        )
        if commission.amount_cents == 0:
            commission.status = CommissionStatus.CLOSED
    events.commissions_moved(session, due)
    post_all(session, [_approval(commission) for commission in due])
    return len(due)


def _approval(commission: Commission) -> Posting:
    """What the payer owes and the referrer earns moves out of the pending accounts."""
    pending = commission.amount_cents
    entries = [
        *pair(
            pending,
            debit="receivable",
            credit="pending_receivable",
            debit_business=commission.payer_id,
            credit_business=commission.payer_id,
            partnership_id=commission.partnership_id,
        ),
        *pair(
            pending,
            debit="pending_payable",
            credit="payable",
            debit_business=commission.referrer_id,
            credit_business=commission.referrer_id,
            partnership_id=commission.partnership_id,
        ),
    ]
    return Posting(
        "approval",
        entries,
        commission.currency,
        memo="hold period over",
        commission_id=commission.id,
    )


def approve_due(
    session: Session, *, business_id: int | None = None, now: dt.datetime | None = None
) -> int:
    """Approve every commission whose hold has passed (a sweep beside the
    per-commission jobs), or only those `business_id` pays or earns (its
    "settle now", which must not sweep the whole platform in one request)."""
    now = now or utcnow()
    query = select(Commission).where(
        Commission.status == CommissionStatus.PENDING, Commission.hold_until <= now
    )
    if business_id is not None:
        query = query.where(either_side_is(business_id))
    return approve_all(session, session.exec(query).all(), now=now)


def owed_cents(commission: Commission) -> int:
    """What the payer owes for it in all: its amount, or nothing once it is void."""
    return 0 if commission.status == CommissionStatus.REVERSED else commission.amount_cents


def outstanding_cents(commission: Commission) -> int:
    """Owed and not yet settled: negative when more was settled than is owed (a
    clawback after a refund or correction, or money to give back on a void
    commission). Nothing while in hold: that sits in the pending accounts."""
    if commission.status == CommissionStatus.PENDING:
        return 0
    return owed_cents(commission) - commission.settled_cents


def eligible_for_settlement(commission: Commission) -> bool:
    """The next settlement of its partnership takes it (approved, or void with
    money still to give back)."""
    if commission.status == CommissionStatus.APPROVED:
        return True
    return commission.status == CommissionStatus.REVERSED and outstanding_cents(commission) != 0


def status_when_settled(commission: Commission) -> str:
    """Its status once nothing stops it being settled (no dispute, no settlement
    under way): closed at nothing, paid when settled in full, else approved so
    the next settlement takes the difference. A void commission stays void."""
    if commission.status == CommissionStatus.REVERSED:
        return CommissionStatus.REVERSED
    if outstanding_cents(commission) != 0:
        return CommissionStatus.APPROVED
    return CommissionStatus.CLOSED if commission.amount_cents == 0 else CommissionStatus.PAID


def _recompute(session: Session, commission: Commission, memo: str) -> int:
    """Follow a change of base or refunds. Booked as a clawback when money already
    moved for it (paid, or held by a dispute); a held commission stays held and
    what changed is settled after the dispute closes."""
    if commission.status == CommissionStatus.REVERSED:
        return 0
    new_amount = current_amount(commission)
    delta = new_amount - commission.amount_cents
    if delta == 0:
        return 0
    moved = (
        commission.status in (CommissionStatus.PAID, CommissionStatus.HELD)
        or commission.settled_cents != 0
    )
    commission.amount_cents, commission.updated_at = new_amount, utcnow()
    _post_change(
        session, commission, delta, "clawback" if moved and delta < 0 else "adjustment", memo
    )
    if commission.status in (
        CommissionStatus.APPROVED,
        CommissionStatus.PAID,
        CommissionStatus.CLOSED,
    ):
        # The difference is settled by the next settlement, in whichever direction.
        commission.status = status_when_settled(commission)
        if commission.status == CommissionStatus.APPROVED:
            commission.settlement_id = None
    return delta


def _won_commission(
    session: Session, business_id: int, referral_id: int
) -> tuple[Referral, Commission | None]:
    referral = session.get(Referral, referral_id)
    if referral is None or business_id not in (referral.sender_id, referral.receiver_id):
        raise NotFound("No such referral.")
    if referral.receiver_id != business_id:
        raise DomainError("Only the business that did the job can change its value.")
    if referral.status != ReferralStatus.WON:
        raise DomainError("Only a won job has a value to change.")
    commission = session.exec(
        select(Commission).where(Commission.referral_id == referral_id, Commission.trigger == "won")
    ).first()
    return referral, commission


def correct_job_value(
    *, session: Session, business_id: int, referral_id: int, job_value_cents: int
) -> Commission | None:
    """The partner corrects the value of a won job; the commission follows."""
    if not 0 <= job_value_cents <= MAX_JOB_CENTS:
        raise ValidationFailed(
            "A job value is from $0.00 to $100,000,000.00.",
            errors={"job_value_cents": [range_message(0, MAX_JOB_CENTS)]},
        )
    referral, commission = _won_commission(session, business_id, referral_id)
    if referral.refunded_cents > job_value_cents:
        raise DomainError(
            "The job value cannot be less than what was already refunded.",
            errors={"job_value_cents": [f"At least {format_cents(referral.refunded_cents)}."]},
        )
    referral.job_value_cents, referral.updated_at = job_value_cents, utcnow()
    if commission is not None:
        commission.base_cents = job_value_cents
        _recompute(session, commission, f"job value corrected to {format_cents(job_value_cents)}")
    return commission


def report_refund(
    *, session: Session, business_id: int, referral_id: int, refund_cents: int
) -> Commission | None:
    """The partner refunded its customer part or all of a won job."""
    referral, commission = _won_commission(session, business_id, referral_id)
    refundable = (referral.job_value_cents or 0) - referral.refunded_cents
    if refund_cents <= 0 or refund_cents > refundable:
        raise DomainError(
            "A refund must be more than zero and at most what is left of the job value.",
            errors={"refund_cents": [f"Between $0.01 and {format_cents(refundable)}."]},
        )
    referral.refunded_cents += refund_cents
    referral.updated_at = utcnow()
    if commission is not None:
        commission.refunded_cents += refund_cents
        _recompute(session, commission, f"refund of {format_cents(refund_cents)} reported")
    return commission


def get_commission(session: Session, business_id: int, commission_id: int) -> Commission:
    commission = session.get(Commission, commission_id)
    if commission is None or business_id not in (commission.payer_id, commission.referrer_id):
        raise NotFound("No such commission.")
    return commission


def won_commission(session: Session, referral_id: int) -> Commission | None:
    return session.exec(  # type: ignore[no-any-return]
        select(Commission).where(Commission.referral_id == referral_id, Commission.trigger == "won")
    ).first()
