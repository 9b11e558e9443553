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
from collections import defaultdict

from flask import current_app
from sqlalchemy import or_
from sqlmodel import Session, select

from referral.commissions.models import Commission
from referral.commissions.services import count_settlement, outstanding_cents
from referral.db import utcnow
from referral.errors import NotFound
from referral.jobs.queue import enqueue, keep_scheduled
from referral.ledger.services import Entry, pair, post
from referral.money import apply_basis_points, format_cents
from referral.notifications.services import notify_business
from referral.partnerships.models import Partnership
from referral.payments import gateway
from referral.payments.models import BillingProfile, ConnectedAccount
from referral.settlements.models import UNFINISHED, WAITING_REASONS, Settlement, SettlementLine

ATTEMPT_SETTLEMENT = "settlement.attempt"
CHARGE_SETTLEMENT = "settlement.charge"
RUN_SETTLEMENTS = "settlements.run"


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


def lines_of(session: Session, settlement_id: int) -> list[tuple[SettlementLine, Commission]]:
    return list(
        session.exec(
            select(SettlementLine, Commission)
            .join(Commission, Commission.id == SettlementLine.commission_id)
            .where(SettlementLine.settlement_id == settlement_id)
            .order_by(SettlementLine.id)
        ).all()
    )


def _unfinished(session: Session, partnership_id: int) -> Settlement | None:
    return session.exec(  # type: ignore[no-any-return]
        select(Settlement).where(
            Settlement.partnership_id == partnership_id, Settlement.status.in_(UNFINISHED)
        )
    ).first()


def build_settlement(session: Session, partnership: Partnership) -> Settlement | None:
    """Net the partnership's approved, unsettled commissions into one settlement.

    None when there is nothing to settle, a settlement is already under way, or
    the net is below the minimum charge (it carries to the next run)."""
    if _unfinished(session, partnership.id) is not None:  # type: ignore[arg-type]
        return None
    commissions = session.exec(
        select(Commission)
        .where(Commission.partnership_id == partnership.id, Commission.status == "approved")
        .order_by(Commission.id)
        .with_for_update()
    ).all()
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
    minimum = current_app.config["SETTLEMENT_MINIMUM_CENTS"]
    if 0 < net < minimum:
        return None
    currency = lines[0][0].currency
    settlement = Settlement(
        partnership_id=partnership.id,
        debtor_id=debtor,
        creditor_id=creditor,
        currency=currency,
        debtor_owed_cents=owed_by[debtor],
        creditor_owed_cents=owed_by[creditor],
        net_cents=net,
        platform_fee_cents=apply_basis_points(net, current_app.config["PLATFORM_FEE_BPS"]),
        status="open",
        updated_at=utcnow(),
    )
    session.add(settlement)
    session.flush()
    for commission, amount in lines:
        session.add(
            SettlementLine(
                settlement_id=settlement.id,
                commission_id=commission.id,
                payer_id=commission.payer_id,
                amount_cents=amount,
            )
        )
        commission.status, commission.settlement_id = "settling", settlement.id
        commission.updated_at = utcnow()
    session.flush()
    if net == 0:
        _settle(session, settlement, payment=None)
    else:
        enqueue(session, ATTEMPT_SETTLEMENT, {"settlement_id": settlement.id})
    return settlement


def build_settlements(session: Session, *, business_id: int | None = None) -> list[Settlement]:
    """Build a settlement for every partnership with something to settle (or only
    `business_id`'s partnerships: its "settle now")."""
    query = select(Partnership).where(
        Partnership.id.in_(  # type: ignore[union-attr]
            select(Commission.partnership_id).where(Commission.status == "approved").distinct()
        )
    )
    if business_id is not None:
        query = query.where(
            or_(
                Partnership.business_low_id == business_id,
                Partnership.business_high_id == business_id,
            )
        )
    built = [build_settlement(session, p) for p in session.exec(query.order_by(Partnership.id))]
    return [s for s in built if s is not None]


def _wait(session: Session, settlement: Settlement, reason: str) -> None:
    """Park the settlement until the missing piece arrives; tell whoever must act, once."""
    if settlement.status == "waiting" and settlement.waiting_reason == reason:
        return
    settlement.status, settlement.waiting_reason = "waiting", reason
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
    if settlement.status not in ("open", "waiting", "retry_scheduled"):
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
    settlement.status, settlement.waiting_reason = "processing", ""
    settlement.payment_intent_id, settlement.next_attempt_at = None, None
    settlement.updated_at = utcnow()
    enqueue(
        session,
        CHARGE_SETTLEMENT,
        {"settlement_id": settlement.id, "attempt": settlement.attempts},
    )


def idempotency_key(settlement: Settlement) -> str:
    return f"settlement-{settlement.id}-attempt-{settlement.attempts}"


def charge(session: Session, settlement: Settlement, attempt_number: int) -> None:
    """Send charge attempt `attempt_number`. Run again after a crash, it sends the
    same key, and Stripe answers with the first result."""
    if settlement.status != "processing" or settlement.attempts != attempt_number:
        return
    account = session.exec(
        select(ConnectedAccount).where(ConnectedAccount.business_id == settlement.creditor_id)
    ).one()
    billing = session.exec(
        select(BillingProfile).where(BillingProfile.business_id == settlement.debtor_id)
    ).one()
    try:
        payment = gateway.destination_charge(
            amount_cents=settlement.net_cents,
            currency=settlement.currency,
            customer_id=billing.stripe_customer_id,
            payment_method_id=billing.payment_method_id or "",
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
    except gateway.CardDeclined as declined:
        settlement.payment_intent_id = declined.payment_intent_id
        _declined(session, settlement, declined.message)
        return
    except gateway.PaymentRefused as refused:
        # Stripe refused the request itself (say, the account lost its capabilities):
        # park it; the operator page lists it.
        settlement.last_error = str(refused)[:2000]
        _wait(session, settlement, "creditor_not_onboarded")
        return
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
        settlement.status = "retry_scheduled"
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
        settlement.status = "failed"
        _release(session, settlement)
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


def _release(session: Session, settlement: Settlement) -> None:
    """The settlement will not be paid: its commissions go back to waiting for the next."""
    for commission in session.exec(
        select(Commission).where(Commission.settlement_id == settlement.id)
    ):
        if commission.status == "settling":
            commission.status, commission.settlement_id = "approved", None
            commission.updated_at = utcnow()


def apply_payment(session: Session, payment: gateway.PaymentState) -> str:
    """Apply a PaymentIntent's own state (from `payment_intent.*` or a fetch).

    Succeeded pays the settlement once; a failure only counts for the attempt in
    flight, so `payment_failed` arriving after `succeeded` changes nothing."""
    settlement_id = payment.metadata.get("settlement_id", "")
    settlement = session.get(Settlement, int(settlement_id)) if settlement_id.isdigit() else None
    if settlement is None:
        return "ignored: not a settlement charge"
    if payment.status == "succeeded":
        if settlement.status in ("paid", "disputed", "reversed"):
            return "ignored: already paid"
        if payment.amount_cents != settlement.net_cents:
            raise ValueError(
                f"settlement {settlement.id}: charged {payment.amount_cents},"
                f" expected {settlement.net_cents}"
            )
        _settle(session, settlement, payment=payment)
        return "applied: paid"
    if payment.status == "requires_payment_method":
        in_flight = settlement.status == "processing" and payment.metadata.get("attempt") == str(
            settlement.attempts
        )
        if not in_flight:
            return "ignored: not the attempt in flight"
        settlement.payment_intent_id = payment.payment_intent_id
        _declined(session, settlement, payment.failure_message or "The card was declined.")
        return "applied: declined"
    return f"ignored: status {payment.status}"


def _settle(
    session: Session, settlement: Settlement, *, payment: gateway.PaymentState | None
) -> None:
    """Write the ledger for a settlement that was paid (or netted to zero) and
    mark its commissions paid."""
    debtor, creditor, pid = settlement.debtor_id, settlement.creditor_id, settlement.partnership_id
    net, fee, crossed = (
        settlement.net_cents,
        settlement.platform_fee_cents,
        settlement.creditor_owed_cents,
    )
    common = {"currency": settlement.currency, "settlement_id": settlement.id}
    # What each owed the other cancels out: both end with only the net.
    netting: list[Entry] = [
        *pair(
            crossed,
            debit="payable",
            credit="receivable",
            debit_business=debtor,
            credit_business=debtor,
            partnership_id=pid,
        ),
        *pair(
            crossed,
            debit="payable",
            credit="receivable",
            debit_business=creditor,
            credit_business=creditor,
            partnership_id=pid,
        ),
    ]
    post(session, "netting", netting, memo="commissions owed both ways", **common)
    if payment is not None:
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
    now = utcnow()
    settlement.status = "paid" if payment is not None else "netted"
    settlement.paid_at = settlement.updated_at = now
    session.flush()
    count_settlement(session, settlement, settled=True)
    for commission in session.exec(
        select(Commission).where(Commission.settlement_id == settlement.id)
    ).all():
        if commission.status != "settling":
            continue
        # Changed while settling (a refund reported, say): the rest waits for the next.
        left = outstanding_cents(commission)
        commission.status = "paid" if left == 0 else "approved"
        commission.updated_at = now
    if payment is not None:
        notify_business(
            session=session,
            business_id=creditor,
            kind="settlement.paid",
            title=f"{format_cents(net - fee)} in commissions is on its way to your Stripe account",
            path=f"/settlements/{settlement.id}",
        )
        notify_business(
            session=session,
            business_id=debtor,
            kind="settlement.paid",
            title=f"{format_cents(net)} in commissions was charged to your card",
            path=f"/settlements/{settlement.id}",
        )


def retry_waiting_for(
    session: Session, *, creditor_id: int | None = None, debtor_id: int | None = None
) -> int:
    """The missing piece arrived (payouts enabled, a new card): try now the
    settlements that waited for it, or were declined on the old card."""
    if creditor_id is not None:
        query = select(Settlement).where(
            Settlement.creditor_id == creditor_id,
            Settlement.status == "waiting",
            Settlement.waiting_reason == "creditor_not_onboarded",
        )
    else:
        query = select(Settlement).where(
            Settlement.debtor_id == debtor_id,
            or_(
                Settlement.status == "retry_scheduled",
                (Settlement.status == "waiting")
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
                    ("waiting", "retry_scheduled", "failed", "disputed", "processing")
                )
            )
            .order_by(Settlement.updated_at.desc())  # type: ignore[union-attr]
            .limit(limit)
        ).all()
    )
