"""Settlement with netting: per partnership, the approved commissions owed each
way cancel out and the net debtor is charged once, as a destination charge to
the net creditor's connected account, with the platform fee kept by the platform.

The charge takes two jobs. `settlement.attempt` checks that both sides are ready
and records the attempt number (committed before Stripe is called);
`settlement.charge` sends the PaymentIntent under the key
`settlement-<id>-attempt-<n>`, so a worker killed mid-call and run again gets
Stripe's stored answer instead of a second charge. The settlement is paid when
`payment_intent.succeeded` arrives.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import insert, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from referral import events
from referral.auth.roles import MANAGING_ROLES
from referral.businesses.actor import Actor
from referral.businesses.models import Business
from referral.commissions.models import Commission, CommissionStatus, either_side_is
from referral.commissions.services import outstanding_cents, status_when_settled
from referral.db import utcnow
from referral.errors import DomainError, NotFound, PermissionDenied
from referral.jobs.queue import enqueue, keep_scheduled
from referral.ledger.services import Entry, pair, post
from referral.localtime import format_datetime
from referral.money import apply_basis_points, cents_to_decimal_text, format_cents
from referral.notifications.services import notify_business
from referral.partnerships.models import Partnership
from referral.payments import gateway
from referral.payments.models import BillingProfile, ConnectedAccount
from referral.settlements.models import (
    UNFINISHED,
    WAITING_REASONS,
    Settlement,
    SettlementFailure,
    SettlementLine,
    SettlementStatus,
)

log = logging.getLogger(__name__)

ATTEMPT_SETTLEMENT = "settlement.attempt"
CHARGE_SETTLEMENT = "settlement.charge"
RUN_SETTLEMENTS = "settlements.run"

log = logging.getLogger(__name__)


def get_settlement(session: Session, business_id: int, settlement_id: int) -> Settlement:
    settlement = session.get(Settlement, settlement_id)
    if settlement is None or business_id not in (settlement.debtor_id, settlement.creditor_id):
        raise NotFound("No such settlement.")
    return settlement


def list_settlements(session: Session, business_id: int, *, limit: int = 100) -> list[Settlement]:
    return list(
        session.exec(
            select(Settlement)
            .where(or_(Settlement.debtor_id == business_id, Settlement.creditor_id == business_id))
            .order_by(Settlement.id.desc())  # type: ignore[union-attr]
            .limit(limit)
        ).all()
    )


SETTLEMENT_EXPORT_HEADER = (
    "settlement",
    "created",
    "status",
    "you",
    "partner",
    "net",
    "platform fee",
    "currency",
    "paid",
)


def export_settlements(session: Session, business_id: int) -> Iterator[tuple[object, ...]]:
    """Every settlement of the business, oldest first, a batch at a time (the
    settlements CSV): whether it paid or received, times in its zone."""
    partner = aliased(Business)
    result = session.execute(
        select(Settlement, partner.name)
        .join(partner, partner.id == Settlement.debtor_id + Settlement.creditor_id - business_id)
        .where(or_(Settlement.debtor_id == business_id, Settlement.creditor_id == business_id))
        .order_by(Settlement.id)
        .execution_options(yield_per=1000)
    )
    for s, name in result:
        yield (
            s.id,
            format_datetime(s.created_at),
            s.status,
            "receives" if s.creditor_id == business_id else "pays",
            name,
            cents_to_decimal_text(s.net_cents),
            cents_to_decimal_text(s.platform_fee_cents),
            s.currency,
            format_datetime(s.paid_at),
        )


def lines_of(session: Session, settlement_id: int) -> list[tuple[SettlementLine, Commission]]:
    return list(
        session.exec(
            select(SettlementLine, Commission)
            .join(Commission, Commission.id == SettlementLine.commission_id)
            .where(SettlementLine.settlement_id == settlement_id)
            .order_by(SettlementLine.id)
        ).all()
    )


# What the next settlement takes: approved commissions, and void ones with money
# still to give back (commissions.services.eligible_for_settlement).
_ELIGIBLE = (Commission.status == CommissionStatus.APPROVED) | (
    (Commission.status == CommissionStatus.REVERSED) & (Commission.settled_cents != 0)
)


def build_settlement(session: Session, partnership: Partnership) -> Settlement | None:
    """Net the partnership's approved, unsettled commissions into one settlement.

    None when there is nothing to settle, a settlement is already under way, or
    the net is below the minimum charge (it carries to the next run)."""
    ids = [partnership.id]
    if _under_way(session, ids):
        return None
    plan = _plan(partnership, _eligible_locked(session, ids)[partnership.id])  # type: ignore[index]
    return _write(session, [plan])[0] if plan is not None else None


def _under_way(session: Session, partnership_ids: Any) -> set[int]:
    """Which of the partnerships (ids, or a subquery of them) have a settlement
    under way: one at a time, so nothing is built for them."""
    return set(
        session.exec(
            select(Settlement.partnership_id).where(
                Settlement.partnership_id.in_(partnership_ids),  # type: ignore[attr-defined]
                Settlement.status.in_(UNFINISHED),
            )
        ).all()
    )


def _eligible_locked(session: Session, partnership_ids: Any) -> dict[int, list[Commission]]:
    """The partnerships' commissions the next settlement takes, by partnership,
    locked in one order (partnership, then commission) so two runs cannot deadlock."""
    commissions: dict[int, list[Commission]] = defaultdict(list)
    for commission in session.exec(
        select(Commission)
        .where(Commission.partnership_id.in_(partnership_ids), _ELIGIBLE)  # type: ignore[attr-defined]
        .order_by(Commission.partnership_id, Commission.id)
        .with_for_update()
    ):
        commissions[commission.partnership_id].append(commission)
    return commissions


@dataclass(frozen=True)
class _Plan:
    """One partnership's next settlement, worked out before anything is written."""

    partnership_id: int
    debtor_id: int
    creditor_id: int
    currency: str
    debtor_owed_cents: int
    creditor_owed_cents: int
    net_cents: int
    lines: list[tuple[Commission, int]]  # each commission with what it still owes


def _plan(partnership: Partnership, commissions: Sequence[Commission]) -> _Plan | None:
    """The settlement of the partnership's eligible commissions (read and
    locked), or None: nothing outstanding, or a net below the minimum charge."""
    lines = [(c, outstanding_cents(c)) for c in commissions]
    lines = [(c, amount) for c, amount in lines if amount != 0]
    if not lines:
        return None
    owed_by: dict[int, int] = defaultdict(int)
    for commission, amount in lines:
        owed_by[commission.payer_id] += amount
    a, b = partnership.business_low_id, partnership.business_high_id
    debtor, creditor = (a, b) if owed_by[a] >= owed_by[b] else (b, a)
    net = owed_by[debtor] - owed_by[creditor]
    if 0 < net < current_app.config["SETTLEMENT_MINIMUM_CENTS"]:
        return None
    return _Plan(
        partnership.id,  # type: ignore[arg-type]
        debtor,
        creditor,
        lines[0][0].currency,
        owed_by[debtor],
        owed_by[creditor],
        net,
        lines,
    )


def _write(session: Session, plans: Sequence[_Plan]) -> list[Settlement]:
    """Write the planned settlements, with a few statements whatever their number:
    the settlements, all their lines, the commissions' update, the charge jobs.
    A settlement that nets to zero is settled at once (nothing to charge)."""
    fee_bps, now = current_app.config["PLATFORM_FEE_BPS"], utcnow()
    settlements = [
        Settlement(
            partnership_id=plan.partnership_id,
            debtor_id=plan.debtor_id,
            creditor_id=plan.creditor_id,
            currency=plan.currency,
            debtor_owed_cents=plan.debtor_owed_cents,
            creditor_owed_cents=plan.creditor_owed_cents,
            net_cents=plan.net_cents,
            platform_fee_cents=apply_basis_points(plan.net_cents, fee_bps),
            status=SettlementStatus.OPEN,
            updated_at=now,
        )
        for plan in plans
    ]
    session.add_all(settlements)
    session.flush()
    # The lines as rows, not objects (one INSERT on every database, nothing to read back).
    session.execute(
        insert(SettlementLine),
        [
            {
                "settlement_id": settlement.id,
                "commission_id": commission.id,
                "payer_id": commission.payer_id,
                "amount_cents": amount,
            }
            for plan, settlement in zip(plans, settlements, strict=True)
            for commission, amount in plan.lines
        ],
    )
    for plan, settlement in zip(plans, settlements, strict=True):
        for commission, _amount in plan.lines:
            if commission.status == CommissionStatus.APPROVED:  # a void one stays void
                commission.status = CommissionStatus.SETTLING
            commission.settlement_id, commission.updated_at = settlement.id, now
    for settlement in settlements:
        if settlement.net_cents == 0:
            session.flush()
            _settle(session, settlement, payment=None)
        else:
            enqueue(session, ATTEMPT_SETTLEMENT, {"settlement_id": settlement.id})
    session.flush()  # the commissions with the jobs: one flush
    return settlements


def build_settlements(session: Session, *, business_id: int | None = None) -> list[Settlement]:
    """Build a settlement for every partnership with something to settle (or only
    `business_id`'s partnerships: its "settle now").

    One partnership's failure stays its own: one whose settlement cannot be
    worked out or written (bad data, a bug) is recorded as a SettlementFailure
    with its reason, retried by the next run; the others settle.

    What the partnerships' settlements need is read for all of them first
    (their eligible commissions, locked; the settlements under way; the open
    failures), one query each; then all are written together in one savepoint,
    a few statements whatever their number. Should that fail, it is undone and
    each partnership is written in a savepoint of its own, which finds the one
    at fault."""
    eligible = select(Commission.partnership_id).where(_ELIGIBLE)
    if business_id is not None:  # read only this business's commissions
        eligible = eligible.where(either_side_is(business_id))
    ids = eligible.distinct()
    partnerships = session.exec(
        select(Partnership).where(Partnership.id.in_(ids)).order_by(Partnership.id)  # type: ignore[union-attr]
    ).all()
    if not partnerships:
        return []
    under_way = _under_way(session, ids)
    commissions = _eligible_locked(session, ids)
    failures = {
        failure.partnership_id: failure
        for failure in session.exec(
            select(SettlementFailure).where(
                SettlementFailure.partnership_id.in_(ids),  # type: ignore[attr-defined]
                SettlementFailure.resolved_at.is_(None),  # type: ignore[union-attr]
            )
        )
    }
    plans = []
    for partnership in partnerships:
        pid: int = partnership.id  # type: ignore[assignment]
        if pid in under_way:  # one settlement at a time: nothing to build
            _resolved(failures.get(pid))
            continue
        try:
            plan = _plan(partnership, commissions[pid])
        except Exception as error:  # noqa: BLE001 - any failure stays with its partnership
            _failed(session, pid, failures.get(pid), error)
            continue
        if plan is None:
            _resolved(failures.get(pid))
        else:
            plans.append(plan)
    if not plans:
        return []
    try:
        with session.begin_nested():
            built = _write(session, plans)
    except Exception:  # noqa: BLE001 - found below, one partnership at a time
        log.warning("settling %d partnerships together failed: each alone now", len(plans))
        return _write_each_alone(session, plans, failures)
    for plan in plans:
        _resolved(failures.get(plan.partnership_id))
    return built


def _write_each_alone(
    session: Session, plans: Sequence[_Plan], failures: dict[int, SettlementFailure]
) -> list[Settlement]:
    built = []
    for plan in plans:
        failure = failures.get(plan.partnership_id)
        try:
            with session.begin_nested():  # one partnership's failure undoes only its work
                built += _write(session, [plan])
        except Exception as error:  # noqa: BLE001 - any failure stays with its partnership
            _failed(session, plan.partnership_id, failure, error)
            continue
        _resolved(failure)
    return built


def _failed(
    session: Session, partnership_id: int, failure: SettlementFailure | None, error: Exception
) -> None:
    """Record why the partnership could not be settled (on its open `failure`,
    if it has one); the next run tries again."""
    log.error("settlement of partnership %s failed", partnership_id, exc_info=error)
    reason = f"{type(error).__name__}: {error}"[:2000]
    now = utcnow()
    if failure is None:
        session.add(
            SettlementFailure(partnership_id=partnership_id, error=reason, last_failed_at=now)
        )
    else:
        failure.error, failure.last_failed_at = reason, now
        failure.failures += 1
    session.flush()


def _resolved(failure: SettlementFailure | None) -> None:
    if failure is not None:
        failure.resolved_at = utcnow()


def open_failures(
    session: Session, *, business_id: int | None = None, limit: int = 200
) -> list[SettlementFailure]:
    """Partnerships whose last settlement run failed (only `business_id`'s,
    when given), most recent first."""
    query = select(SettlementFailure).where(
        SettlementFailure.resolved_at.is_(None)  # type: ignore[union-attr]
    )
    if business_id is not None:
        query = query.join(Partnership, Partnership.id == SettlementFailure.partnership_id).where(
            or_(
                Partnership.business_low_id == business_id,
                Partnership.business_high_id == business_id,
            )
        )
    return list(
        session.exec(
            query.order_by(SettlementFailure.last_failed_at.desc()).limit(limit)  # type: ignore[attr-defined]
        ).all()
    )


def _wait(session: Session, settlement: Settlement, reason: str) -> None:
    """Park the settlement until the missing piece arrives; tell whoever must act, once."""
    if settlement.status == SettlementStatus.WAITING and settlement.waiting_reason == reason:
        return
    settlement.status, settlement.waiting_reason = SettlementStatus.WAITING, reason
    settlement.updated_at = utcnow()
    who = settlement.creditor_id if reason == "creditor_not_onboarded" else settlement.debtor_id
    if reason == "creditor_not_onboarded":
        title = (
            f"Finish Stripe onboarding to receive {format_cents(settlement.net_cents)}"
            " in commissions"
        )
    elif reason == "debtor_no_payment_method":
        title = f"Add a card to pay {format_cents(settlement.net_cents)} in commissions"
    else:
        title = f"A settlement is waiting: {WAITING_REASONS[reason]}"
    notify_business(
        session=session, business_id=who, kind="settlement.waiting", title=title, path="/payments"
    )


def attempt(session: Session, settlement: Settlement) -> None:
    """Check both sides are ready and start charge attempt n+1 (or wait)."""
    if settlement.status not in (
        SettlementStatus.OPEN,
        SettlementStatus.WAITING,
        SettlementStatus.RETRY_SCHEDULED,
    ):
        return
    account = session.exec(
        select(ConnectedAccount).where(ConnectedAccount.business_id == settlement.creditor_id)
    ).first()
    if account is None or not (account.payouts_enabled and account.charges_enabled):
        _wait(session, settlement, "creditor_not_onboarded")
        return
    billing = session.exec(
        select(BillingProfile).where(BillingProfile.business_id == settlement.debtor_id)
    ).first()
    if billing is None or billing.payment_method_id is None:
        _wait(session, settlement, "debtor_no_payment_method")
        return
    settlement.attempts += 1
    settlement.status, settlement.waiting_reason = SettlementStatus.PROCESSING, ""
    settlement.payment_intent_id, settlement.next_attempt_at = None, None
    settlement.updated_at = utcnow()
    # The card is fixed with the attempt: a crashed charge job run again sends the
    # same parameters (so the same key) even if a new card was saved meanwhile;
    # the new card gets its own attempt.
    enqueue(
        session,
        CHARGE_SETTLEMENT,
        {
            "settlement_id": settlement.id,
            "attempt": settlement.attempts,
            "payment_method_id": billing.payment_method_id,
        },
    )


def idempotency_key(settlement: Settlement) -> str:
    return f"settlement-{settlement.id}-attempt-{settlement.attempts}"


def _parties(session: Session, settlement: Settlement) -> tuple[ConnectedAccount, BillingProfile]:
    """The creditor's connected account and the debtor's billing profile."""
    account = session.exec(
        select(ConnectedAccount).where(ConnectedAccount.business_id == settlement.creditor_id)
    ).one()
    billing = session.exec(
        select(BillingProfile).where(BillingProfile.business_id == settlement.debtor_id)
    ).one()
    return account, billing


def charge(
    session: Session,
    settlement: Settlement,
    attempt_number: int,
    payment_method_id: str | None = None,
) -> None:
    """Send charge attempt `attempt_number` on the card chosen for it (by default
    the saved one). Run again after a crash, it sends the same parameters under
    the same key, and Stripe answers with the first result."""
    if settlement.status != SettlementStatus.PROCESSING or settlement.attempts != attempt_number:
        return
    account, billing = _parties(session, settlement)
    try:
        payment = gateway.destination_charge(
            amount_cents=settlement.net_cents,
            currency=settlement.currency,
            customer_id=billing.stripe_customer_id,
            payment_method_id=payment_method_id or billing.payment_method_id or "",
            destination_account_id=account.stripe_account_id,
            platform_fee_cents=settlement.platform_fee_cents,
            description=f"Referral commissions, settlement {settlement.id}",
            metadata={
                "settlement_id": str(settlement.id),
                "attempt": str(settlement.attempts),
                "partnership_id": str(settlement.partnership_id),
            },
            idempotency_key=idempotency_key(settlement),
        )
    except gateway.AuthenticationRequired as needed:
        settlement.payment_intent_id = needed.payment_intent_id
        _needs_authentication(session, settlement, needed.message)
        return
    except gateway.CardDeclined as declined:
        settlement.payment_intent_id = declined.payment_intent_id
        _declined(session, settlement, declined.message)
        return
    except gateway.DestinationNotReady as refused:
        # The creditor's account lost (or never had) the transfers capability.
        settlement.last_error = str(refused)[:2000]
        _wait(session, settlement, "creditor_not_onboarded")
        return
    except gateway.PaymentRefused as refused:
        _request_refused(session, settlement, str(refused))
        return
    # gateway.PaymentsUnavailable propagates: the job runs again with backoff, and
    # the same attempt sends the same parameters, so the same idempotency key.
    settlement.payment_intent_id = payment.payment_intent_id
    settlement.updated_at = utcnow()


def _retry_days() -> list[int]:
    text = current_app.config["SETTLEMENT_RETRY_DAYS"]
    return [int(part) for part in str(text).split(",") if part.strip()]


def _declined(session: Session, settlement: Settlement, message: str) -> None:
    settlement.last_error = message[:2000]
    settlement.updated_at = now = utcnow()
    schedule = _retry_days()
    if settlement.attempts <= len(schedule):
        settlement.status = SettlementStatus.RETRY_SCHEDULED
        settlement.next_attempt_at = now + dt.timedelta(days=schedule[settlement.attempts - 1])
        enqueue(
            session,
            ATTEMPT_SETTLEMENT,
            {"settlement_id": settlement.id},
            run_at=settlement.next_attempt_at,
        )
        title = (
            f"Your card was declined for {format_cents(settlement.net_cents)} in commissions;"
            f" we will try again on {settlement.next_attempt_at:%b %d}. Update your card."
        )
    else:
        settlement.status = SettlementStatus.FAILED
        _release(session, settlement)
        events.settlement_moved(session, settlement)
        title = (
            f"We could not charge {format_cents(settlement.net_cents)} in commissions;"
            " update your card and we will settle again."
        )
    notify_business(
        session=session,
        business_id=settlement.debtor_id,
        kind="settlement.declined",
        title=title,
        path="/payments",
    )


def _refund_second_payment(settlement: Settlement, payment: gateway.PaymentState) -> None:
    """A settlement is paid once: a second payment that got through (the debtor
    paid on Stripe's page while another attempt succeeded) goes back in full,
    transfer and fee included. The ledger never booked it."""
    log.warning(
        "settlement %s paid twice (%s, %s): refunding the second",
        settlement.id,
        settlement.payment_intent_id,
        payment.payment_intent_id,
    )
    gateway.refund_payment(
        payment_intent_id=payment.payment_intent_id,
        amount_cents=payment.amount_cents,
        idempotency_key=f"settlement-{settlement.id}-second-payment-{payment.payment_intent_id}",
    )


def _needs_authentication(session: Session, settlement: Settlement, message: str) -> None:
    """The debtor's bank wants them present: no off-session retry can succeed, so
    the settlement waits for them to pay on Stripe's page (email, notification and
    the banner on their payments page link to it)."""
    settlement.last_error = message[:2000]
    if (
        settlement.status == SettlementStatus.WAITING
        and settlement.waiting_reason == "debtor_authentication"
    ):
        return
    settlement.status, settlement.waiting_reason = SettlementStatus.WAITING, "debtor_authentication"
    settlement.next_attempt_at, settlement.updated_at = None, utcnow()
    notify_business(
        session=session,
        business_id=settlement.debtor_id,
        kind="settlement.authentication_required",
        title=(
            f"Your bank asks you to confirm the payment of {format_cents(settlement.net_cents)}"
            " in commissions: confirm it on Stripe from your payments page"
        ),
        path="/payments#confirm-payment",
    )


def awaiting_authentication(session: Session, debtor_id: int) -> list[Settlement]:
    """The business's settlements waiting for it to confirm the payment on Stripe."""
    return list(
        session.exec(
            select(Settlement)
            .where(
                Settlement.debtor_id == debtor_id,
                Settlement.status == SettlementStatus.WAITING,
                Settlement.waiting_reason == "debtor_authentication",
            )
            .order_by(Settlement.id)
        ).all()
    )


def authentication_checkout(
    session: Session, *, actor: Actor, settlement_id: int, success_url: str, cancel_url: str
) -> str:
    """The Stripe-hosted page where the debtor pays a settlement its bank wants
    confirmed: a Checkout Session in payment mode for the net amount, as the same
    destination charge with the same fee. The open page for this attempt is
    reused, so there is one page to pay (and a second payment is refunded).
    Raises NotFound (not the debtor's), PermissionDenied (staff) or DomainError
    (nothing to confirm)."""
    settlement = get_settlement(session, actor.business_id, settlement_id)
    if settlement.debtor_id != actor.business_id:
        raise NotFound("No such settlement.")
    if actor.role not in MANAGING_ROLES:
        raise PermissionDenied("Only owners and managers can pay settlements.")
    if (settlement.status, settlement.waiting_reason) != (
        SettlementStatus.WAITING,
        "debtor_authentication",
    ):
        raise DomainError("This settlement does not wait for you to confirm a payment.")
    account, billing = _parties(session, settlement)
    metadata = {
        "settlement_id": str(settlement.id),
        "attempt": str(settlement.attempts),
        "partnership_id": str(settlement.partnership_id),
    }
    url = gateway.open_checkout_for(customer_id=billing.stripe_customer_id, metadata=metadata)
    if url is not None:
        return url
    _session_id, url = gateway.payment_checkout(
        amount_cents=settlement.net_cents,
        currency=settlement.currency,
        product_name=f"Referral commissions, settlement {settlement.id}",
        destination_account_id=account.stripe_account_id,
        platform_fee_cents=settlement.platform_fee_cents,
        metadata=metadata,
        success_url=success_url,
        cancel_url=cancel_url,
        idempotency_key=f"settlement-{settlement.id}-attempt-{settlement.attempts}-checkout",
        customer_id=billing.stripe_customer_id,
    )
    return url


def _request_refused(session: Session, settlement: Settlement, message: str) -> None:
    """Stripe refused our request itself: sending it again would be refused again,
    and neither business can fix it. It fails for the operator (the payments page
    lists it with Stripe's message); its commissions go to the next settlement."""
    log.error("settlement %s: Stripe refused the charge request: %s", settlement.id, message)
    settlement.last_error = f"Stripe refused our request: {message}"[:2000]
    settlement.status, settlement.updated_at = SettlementStatus.FAILED, utcnow()
    _release(session, settlement)


def _release(session: Session, settlement: Settlement) -> None:
    """The settlement will not be paid: its commissions go back to waiting for the next."""
    for commission in session.exec(
        select(Commission).where(Commission.settlement_id == settlement.id)
    ):
        if commission.status in (CommissionStatus.SETTLING, CommissionStatus.REVERSED):
            commission.settlement_id, commission.updated_at = None, utcnow()
            if commission.status == CommissionStatus.SETTLING:
                commission.status = CommissionStatus.APPROVED


def apply_payment(session: Session, payment: gateway.PaymentState) -> str:
    """Apply a PaymentIntent's own state (from `payment_intent.*` or a fetch).

    Succeeded pays the settlement once; a failure only counts for the attempt in
    flight, so `payment_failed` arriving after `succeeded` changes nothing."""
    settlement_id = payment.metadata.get("settlement_id", "")
    settlement = session.get(Settlement, int(settlement_id)) if settlement_id.isdigit() else None
    if settlement is None:
        return "ignored: not a settlement charge"
    if payment.status == "succeeded":
        if settlement.status in (
            SettlementStatus.PAID,
            SettlementStatus.DISPUTED,
            SettlementStatus.REVERSED,
        ):
            if payment.payment_intent_id != settlement.payment_intent_id:
                _refund_second_payment(settlement, payment)
                return "applied: a second payment, refunded"
            return "ignored: already paid"
        if payment.amount_cents != settlement.net_cents:
            raise ValueError(
                f"settlement {settlement.id}: charged {payment.amount_cents},"
                f" expected {settlement.net_cents}"
            )
        _settle(session, settlement, payment=payment)
        return "applied: paid"
    if payment.status == "requires_payment_method":
        in_flight = settlement.status == SettlementStatus.PROCESSING and payment.metadata.get(
            "attempt"
        ) == str(settlement.attempts)
        if not in_flight:
            return "ignored: not the attempt in flight"
        settlement.payment_intent_id = payment.payment_intent_id
        if payment.needs_authentication:
            _needs_authentication(session, settlement, payment.failure_message)
            return "applied: waiting for the debtor to authenticate"
        _declined(session, settlement, payment.failure_message or "The card was declined.")
        return "applied: declined"
    return f"ignored: status {payment.status}"


def _settle(
    session: Session, settlement: Settlement, *, payment: gateway.PaymentState | None
) -> None:
    """Write the ledger for a settlement that was paid (or netted to zero) and
    mark its commissions paid."""
    _post_netting(session, settlement)
    if payment is not None:
        _post_payment(session, settlement, payment)
    now = utcnow()
    _mark_settled(session, settlement, paid=payment is not None, now=now)
    _close_settled_commissions(session, settlement, now)
    if payment is not None:
        _tell_both_it_was_paid(session, settlement)


def _ledger_common(settlement: Settlement) -> dict[str, Any]:
    return {"currency": settlement.currency, "settlement_id": settlement.id}


def _post_netting(session: Session, settlement: Settlement) -> None:
    """What each owed the other cancels out: both end with only the net."""
    crossed, pid = settlement.creditor_owed_cents, settlement.partnership_id
    netting: list[Entry] = [
        entry
        for business in (settlement.debtor_id, settlement.creditor_id)
        for entry in pair(
            crossed,
            debit="payable",
            credit="receivable",
            debit_business=business,
            credit_business=business,
            partnership_id=pid,
        )
    ]
    post(
        session,
        "netting",
        netting,
        memo="commissions owed both ways",
        **_ledger_common(settlement),
    )


def _post_payment(session: Session, settlement: Settlement, payment: gateway.PaymentState) -> None:
    """The debtor's charge, the platform fee, and the transfer to the creditor."""
    debtor, creditor, pid = settlement.debtor_id, settlement.creditor_id, settlement.partnership_id
    net, fee = settlement.net_cents, settlement.platform_fee_cents
    common = _ledger_common(settlement)
    charge_id = payment.charge_id or payment.payment_intent_id
    post(
        session,
        "settlement_charge",
        pair(
            net,
            debit="stripe_balance",
            credit="receivable",
            credit_business=debtor,
            partnership_id=pid,
        ),
        memo="net debtor charged",
        stripe_object_id=payment.payment_intent_id,
        **common,
    )
    post(
        session,
        "platform_fee",
        pair(
            fee,
            debit="payable",
            credit="platform_fees",
            debit_business=creditor,
            partnership_id=pid,
        ),
        memo="platform fee",
        stripe_object_id=charge_id,
        **common,
    )
    post(
        session,
        "transfer",
        pair(
            net - fee,
            debit="payable",
            credit="stripe_balance",
            debit_business=creditor,
            partnership_id=pid,
        ),
        memo="sent to the creditor's connected account",
        stripe_object_id=charge_id,
        **common,
    )
    settlement.payment_intent_id = payment.payment_intent_id
    settlement.charge_id = payment.charge_id


def _mark_settled(
    session: Session, settlement: Settlement, *, paid: bool, now: dt.datetime
) -> None:
    settlement.status = SettlementStatus.PAID if paid else SettlementStatus.NETTED
    settlement.paid_at = settlement.updated_at = now
    events.settlement_moved(session, settlement)
    session.flush()
    count_settlement(session, settlement, settled=True)


def _close_settled_commissions(session: Session, settlement: Settlement, now: dt.datetime) -> None:
    for commission in session.exec(
        select(Commission).where(Commission.settlement_id == settlement.id)
    ).all():
        if commission.status != CommissionStatus.SETTLING:
            continue
        # Changed while settling (a refund reported, say): the rest waits for the
        # next; refunded to nothing, it is closed.
        commission.status = status_when_settled(commission)
        commission.updated_at = now


def _tell_both_it_was_paid(session: Session, settlement: Settlement) -> None:
    net, fee = settlement.net_cents, settlement.platform_fee_cents
    notify_business(
        session=session,
        business_id=settlement.creditor_id,
        kind="settlement.paid",
        title=f"{format_cents(net - fee)} in commissions is on its way to your Stripe account",
        path=f"/settlements/{settlement.id}",
    )
    notify_business(
        session=session,
        business_id=settlement.debtor_id,
        kind="settlement.paid",
        title=f"{format_cents(net)} in commissions was charged to your card",
        path=f"/settlements/{settlement.id}",
    )


def count_settlement(session: Session, settlement: Settlement, *, settled: bool) -> None:
    """A settlement entered (`settled`) or left the SETTLED states: add its lines
    to, or take them from, each commission's `settled_cents`."""
    sign = 1 if settled else -1
    lines = session.exec(
        select(SettlementLine.commission_id, SettlementLine.amount_cents).where(
            SettlementLine.settlement_id == settlement.id
        )
    ).all()
    ids = [commission_id for commission_id, _ in lines]
    commissions = {
        c.id: c
        for c in session.exec(select(Commission).where(Commission.id.in_(ids))).all()  # type: ignore[union-attr]
    }
    for commission_id, amount_cents in lines:
        commissions[commission_id].settled_cents += sign * amount_cents
    session.flush()


def retry_waiting_for(
    session: Session, *, creditor_id: int | None = None, debtor_id: int | None = None
) -> int:
    """The missing piece arrived (payouts enabled, a new card): try now the
    settlements that waited for it, or were declined on the old card."""
    if creditor_id is not None:
        query = select(Settlement).where(
            Settlement.creditor_id == creditor_id,
            Settlement.status == SettlementStatus.WAITING,
            Settlement.waiting_reason == "creditor_not_onboarded",
        )
    else:
        query = select(Settlement).where(
            Settlement.debtor_id == debtor_id,
            or_(
                Settlement.status == SettlementStatus.RETRY_SCHEDULED,
                (Settlement.status == SettlementStatus.WAITING)
                & (Settlement.waiting_reason == "debtor_no_payment_method"),
            ),
        )
    settlements = session.exec(query).all()
    for settlement in settlements:
        enqueue(session, ATTEMPT_SETTLEMENT, {"settlement_id": settlement.id})
    return len(settlements)


def schedule_next_run(session: Session, *, now: dt.datetime | None = None) -> None:
    """Keep exactly one scheduled settlement run queued."""
    days = current_app.config["SETTLEMENT_INTERVAL_DAYS"]
    keep_scheduled(session, RUN_SETTLEMENTS, after=dt.timedelta(days=days), now=now)


def operator_settlements(session: Session, *, limit: int = 200) -> list[Settlement]:
    """Settlements needing an eye: waiting, declined, failed, disputed, or charged
    and still unconfirmed."""
    return list(
        session.exec(
            select(Settlement)
            .where(
                Settlement.status.in_(
                    (
                        SettlementStatus.WAITING,
                        SettlementStatus.RETRY_SCHEDULED,
                        SettlementStatus.FAILED,
                        SettlementStatus.DISPUTED,
                        SettlementStatus.PROCESSING,
                    )
                )
            )
            .order_by(Settlement.updated_at.desc())  # type: ignore[union-attr]
            .limit(limit)
        ).all()
    )
