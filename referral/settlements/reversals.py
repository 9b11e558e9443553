"""Disputes and refunds of settlement charges.

A dispute holds the settlement's commissions; won, it releases them; lost, or
refunded, it reverses them: the debtor has its money back, the transfer to the
creditor is reversed where the creditor's Stripe balance allows, the platform
gives back its fee in proportion, and the commissions are void. Each step is a
balanced ledger transaction; amounts come from Stripe's own objects, and what
Stripe withdraws for a dispute (the amount and its fee) and gives back when
it is won is booked from the dispute's balance transactions.

A refund or correction reported while the dispute is open is a clawback on
the held commission (commissions.services._recompute): won, the commission
goes back to approved and the next settlement collects it; lost, it is netted
into the reversal, which voids each commission's whole amount.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from referral import events
from referral.commissions.models import Commission, CommissionStatus
from referral.commissions.services import status_when_settled
from referral.db import utcnow
from referral.errors import DomainError, NotFound
from referral.ledger.models import LedgerEntry, LedgerTransaction
from referral.ledger.services import pair, post
from referral.money import format_cents
from referral.notifications.services import notify_business
from referral.payments import gateway
from referral.settlements.models import Settlement, SettlementLine, SettlementStatus
from referral.settlements.services import count_settlement


def _by_charge(session: Session, charge_id: object) -> Settlement | None:
    if not isinstance(charge_id, str):
        return None
    return session.exec(  # type: ignore[no-any-return]
        select(Settlement).where(Settlement.charge_id == charge_id).with_for_update()
    ).first()


def is_settlement_charge(session: Session, charge_id: object) -> bool:
    """Whether a charge is a settlement's (a dispute names only its charge)."""
    if not isinstance(charge_id, str):
        return False
    found = session.exec(select(Settlement.id).where(Settlement.charge_id == charge_id)).first()
    return found is not None


def _commissions_of(session: Session, settlement: Settlement) -> list[Commission]:
    """The commissions with a line in the settlement, wherever they are now."""
    ids = select(SettlementLine.commission_id).where(SettlementLine.settlement_id == settlement.id)
    return list(
        session.exec(
            select(Commission).where(Commission.id.in_(ids)).order_by(Commission.id)  # type: ignore[union-attr]
        ).all()
    )


def _hold_commissions(session: Session, settlement: Settlement) -> None:
    """Stop the settlement's commissions moving while its charge is disputed
    (paid ones, and ones reopened by a change since, which would otherwise be
    settled again under the dispute)."""
    for commission in _commissions_of(session, settlement):
        if commission.status in (
            CommissionStatus.PAID,
            CommissionStatus.APPROVED,
            CommissionStatus.CLOSED,
        ):
            commission.status, commission.updated_at = CommissionStatus.HELD, utcnow()
            events.commission_moved(session, commission)


def _release(session: Session, settlement: Settlement) -> None:
    """The dispute is over and the charge stays: what changed meanwhile is
    settled by the next settlement; a held commission with something
    outstanding is never marked paid."""
    for commission in _commissions_of(session, settlement):
        if commission.status != CommissionStatus.HELD:
            continue
        commission.status, commission.updated_at = CommissionStatus.APPROVED, utcnow()
        commission.status = status_when_settled(commission)
        if commission.status == CommissionStatus.APPROVED:
            commission.settlement_id = None


def _tell_both(session: Session, settlement: Settlement, kind: str, title: str) -> None:
    for business_id in (settlement.debtor_id, settlement.creditor_id):
        notify_business(
            session=session,
            business_id=business_id,
            kind=kind,
            title=title,
            path=f"/settlements/{settlement.id}",
        )


def apply_dispute_created(session: Session, obj: dict[str, Any]) -> str:
    """A chargeback holds the commissions; an inquiry (no money withdrawn) only
    tells both sides."""
    settlement = _by_charge(session, obj.get("charge"))
    if settlement is None:
        return "ignored: not a settlement charge"
    if gateway.dispute_stage(obj.get("status")) != gateway.DisputeStage.INQUIRY:
        return _hold(session, settlement, obj)
    if settlement.status != SettlementStatus.PAID:
        return f"ignored: settlement is {settlement.status}"
    _tell_both(
        session,
        settlement,
        "settlement.inquiry",
        f"The debtor's bank asks about the charge of settlement {settlement.id};"
        " no money has moved",
    )
    return "applied: inquiry, nothing held"


def apply_dispute_updated(session: Session, obj: dict[str, Any]) -> str:
    """An inquiry that became a chargeback holds the commissions then."""
    settlement = _by_charge(session, obj.get("charge"))
    if settlement is None:
        return "ignored: not a settlement charge"
    return _hold(session, settlement, obj)


def _hold(session: Session, settlement: Settlement, obj: dict[str, Any]) -> str:
    if gateway.dispute_stage(obj.get("status")) != gateway.DisputeStage.CHARGEBACK:
        return f"ignored: dispute status {obj.get('status')}"
    if settlement.status != SettlementStatus.PAID:
        return f"ignored: settlement is {settlement.status}"
    if _seen(session, settlement, obj):
        return "ignored: dispute already applied (its closing came first)"
    _dispute(session, settlement, obj)
    return "applied: held"


def _dispute(session: Session, settlement: Settlement, obj: dict[str, Any]) -> None:
    settlement.status, settlement.updated_at = SettlementStatus.DISPUTED, utcnow()
    _book_dispute_funds(session, settlement, obj)
    _hold_commissions(session, settlement)
    _tell_both(
        session,
        settlement,
        "settlement.disputed",
        f"The charge of settlement {settlement.id} is disputed; its commissions are on hold",
    )


def apply_dispute_closed(session: Session, obj: dict[str, Any]) -> str:
    settlement = _by_charge(session, obj.get("charge"))
    if settlement is None:
        return "ignored: not a settlement charge"
    stage = gateway.dispute_stage(obj.get("status"))
    if stage not in (
        gateway.DisputeStage.WON,
        gateway.DisputeStage.LOST,
        gateway.DisputeStage.NOTHING_MOVED,
    ):
        return f"ignored: dispute status {obj.get('status')} is not an outcome"
    if settlement.status == SettlementStatus.PAID and _unseen(session, settlement, obj):
        # Money moved for it, but its opening has not been applied (out of
        # order): open it first.
        _dispute(session, settlement, obj)
    if settlement.status != SettlementStatus.DISPUTED:
        # An inquiry closed, or a prevented dispute, on a paid settlement: nothing moved.
        return f"ignored: settlement is {settlement.status}"
    _book_dispute_funds(session, settlement, obj)
    if stage in (gateway.DisputeStage.WON, gateway.DisputeStage.NOTHING_MOVED):
        settlement.status, settlement.updated_at = SettlementStatus.PAID, utcnow()
        _release(session, settlement)
        _tell_both(
            session,
            settlement,
            "settlement.dispute_won",
            "The dispute was won; commissions released"
            if stage == gateway.DisputeStage.WON
            else "The dispute closed with no money lost; commissions released",
        )
        return "applied: released"
    amount = int(obj.get("amount") or settlement.net_cents)
    reversed_cents = _take_back_transfer(
        settlement, amount, idempotency_key=f"settlement-{settlement.id}-dispute-{obj.get('id')}"
    )
    _reverse(session, settlement, amount, reversed_cents, memo="dispute lost")
    return "applied: reversed"


def _booked_dispute_funds(session: Session, settlement: Settlement) -> set[tuple[str, str]]:
    rows = session.exec(
        select(LedgerTransaction.stripe_object_id, LedgerTransaction.kind).where(
            LedgerTransaction.settlement_id == settlement.id,
            LedgerTransaction.kind.in_(  # type: ignore[attr-defined]
                ("dispute_withdrawal", "dispute_reinstatement", "dispute_fee")
            ),
        )
    ).all()
    return {(str(object_id), kind) for object_id, kind in rows}


def _txn_ids(obj: dict[str, Any]) -> set[str]:
    return {
        txn["id"]
        for txn in obj.get("balance_transactions") or []
        if isinstance(txn, dict) and isinstance(txn.get("id"), str)
    }


def _seen(session: Session, settlement: Settlement, obj: dict[str, Any]) -> bool:
    """Some of the dispute's balance transactions are booked already."""
    booked = {object_id for object_id, _ in _booked_dispute_funds(session, settlement)}
    return bool(_txn_ids(obj) & booked)


def _unseen(session: Session, settlement: Settlement, obj: dict[str, Any]) -> bool:
    """The dispute moved money and none of it is booked: never applied here."""
    return bool(_txn_ids(obj)) and not _seen(session, settlement, obj)


def _book_dispute_funds(session: Session, settlement: Settlement, obj: dict[str, Any]) -> None:
    """Book each of the dispute's balance transactions not booked yet: the
    amount Stripe withdrew (into stripe_disputed) or gave back, and the dispute
    fee as its own transaction. Keyed by the balance transaction's id, so an
    event delivered twice, late or out of order books each movement once."""
    booked = _booked_dispute_funds(session, settlement)
    pid = settlement.partnership_id
    common = {"currency": settlement.currency, "settlement_id": settlement.id}
    for txn in obj.get("balance_transactions") or []:
        if not isinstance(txn, dict) or not isinstance(txn.get("id"), str):
            continue
        txn_id, amount, fee = txn["id"], int(txn.get("amount") or 0), int(txn.get("fee") or 0)
        kind = "dispute_withdrawal" if amount < 0 else "dispute_reinstatement"
        if amount and (txn_id, kind) not in booked:
            post(
                session,
                kind,
                pair(-amount, debit="stripe_disputed", credit="stripe_balance", partnership_id=pid),
                memo=f"dispute {obj.get('id')}: Stripe "
                + ("withdrew the amount" if amount < 0 else "gave the amount back"),
                stripe_object_id=txn_id,
                **common,
            )
        if fee and (txn_id, "dispute_fee") not in booked:
            post(
                session,
                "dispute_fee",
                pair(fee, debit="dispute_fees", credit="stripe_balance", partnership_id=pid),
                memo=f"dispute {obj.get('id')}: Stripe's dispute fee",
                stripe_object_id=txn_id,
                **common,
            )


def _disputed_funds(session: Session, settlement: Settlement) -> int:
    """What Stripe holds for the settlement's dispute (withdrawn, not given back)."""
    total = session.exec(
        select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(
            LedgerTransaction.settlement_id == settlement.id,
            LedgerEntry.account == "stripe_disputed",
        )
    ).one()
    return int(total)


def _proportional_transfer(settlement: Settlement, amount: int) -> int:
    transferred = settlement.net_cents - settlement.platform_fee_cents
    return (amount * transferred + settlement.net_cents // 2) // settlement.net_cents


def _take_back_transfer(settlement: Settlement, amount: int, *, idempotency_key: str) -> int:
    """Reverse the creditor's share of `amount`; 0 when its balance does not allow it."""
    return gateway.take_back_transfer(
        charge_id=settlement.charge_id or "",
        amount_cents=_proportional_transfer(settlement, amount),
        idempotency_key=idempotency_key,
        metadata={"settlement_id": str(settlement.id)},
    )


def _reversed_so_far(session: Session, settlement: Settlement) -> int:
    total = session.exec(
        select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(
            LedgerTransaction.settlement_id == settlement.id,
            LedgerTransaction.kind == "transfer_reversal",
            LedgerEntry.account == "stripe_balance",
        )
    ).one()
    return int(total)


def apply_charge_refunded(session: Session, obj: dict[str, Any]) -> str:
    """`charge.refunded`: book what was refunded since last time, once."""
    settlement = _by_charge(session, obj.get("id"))
    if settlement is None:
        return "ignored: not a settlement charge"
    refunded = int(obj.get("amount_refunded") or 0)
    delta = refunded - settlement.refunded_cents
    if delta <= 0:
        return "ignored: already booked"
    transfer = gateway.transfer_of_charge(settlement.charge_id or "")
    reversed_total = transfer.reversed_cents if transfer else 0
    _reverse(
        session,
        settlement,
        delta,
        max(0, reversed_total - _reversed_so_far(session, settlement)),
        memo="charge refunded",
    )
    return "applied: refunded"


def _reverse(
    session: Session, settlement: Settlement, amount: int, transfer_reversed: int, *, memo: str
) -> None:
    """Book `amount` of the settlement charge going back to the debtor, of which
    `transfer_reversed` came back from the creditor; void the commissions."""
    fee_back = _fee_back(settlement, amount, transfer_reversed)
    common = {"currency": settlement.currency, "settlement_id": settlement.id, "memo": memo}
    _post_refund(session, settlement, amount, common)
    _post_creditor_side(session, settlement, transfer_reversed, fee_back, amount, common)
    _record_refunded(session, settlement, amount, memo, common)
    _tell_both(
        session,
        settlement,
        "settlement.reversed",
        f"{format_cents(amount)} of settlement {settlement.id} went back to the payer ({memo})",
    )


def _fee_back(settlement: Settlement, amount: int, transfer_reversed: int) -> int:
    """The platform fee's share of `amount`, never more than the creditor did not return."""
    return min(
        amount - transfer_reversed,
        (amount * settlement.platform_fee_cents + settlement.net_cents // 2)
        // settlement.net_cents,
    )


def _post_refund(
    session: Session, settlement: Settlement, amount: int, common: dict[str, Any]
) -> None:
    """Money Stripe already withdrew for a dispute goes back from there, the rest
    from the platform's balance."""
    from_disputed = min(amount, max(0, _disputed_funds(session, settlement)))
    for account, cents in (
        ("stripe_disputed", from_disputed),
        ("stripe_balance", amount - from_disputed),
    ):
        post(
            session,
            "refund",
            pair(
                cents,
                debit="receivable",
                credit=account,
                debit_business=settlement.debtor_id,
                partnership_id=settlement.partnership_id,
            ),
            **common,
        )


def _post_creditor_side(
    session: Session,
    settlement: Settlement,
    transfer_reversed: int,
    fee_back: int,
    amount: int,
    common: dict[str, Any],
) -> None:
    """The transfer taken back, the fee returned, and what the creditor kept
    beyond its share, which the platform bears."""
    loss = amount - transfer_reversed - fee_back
    for kind, cents, debit in (
        ("transfer_reversal", transfer_reversed, "stripe_balance"),
        ("fee_refund", fee_back, "platform_fees"),
        ("write_off", loss, "written_off"),
    ):
        post(
            session,
            kind,
            pair(
                cents,
                debit=debit,
                credit="payable",
                credit_business=settlement.creditor_id,
                partnership_id=settlement.partnership_id,
            ),
            **common,
        )


def _record_refunded(
    session: Session, settlement: Settlement, amount: int, memo: str, common: dict[str, Any]
) -> None:
    earlier = settlement.refunded_cents
    settlement.refunded_cents += amount
    settlement.updated_at = utcnow()
    if settlement.refunded_cents < settlement.net_cents:
        # Part of the charge went back: nobody owes that part any more.
        post(session, "write_off", _between(settlement, amount), **common)
        return
    settlement.status = SettlementStatus.REVERSED
    # Void: the earlier parts written off in a lump come back, the lines
    # leave what each commission has settled, and each commission's whole
    # amount is written off (netting in a clawback made during a dispute).
    post(session, "write_off", _between(settlement, -earlier), **common)
    count_settlement(session, settlement, settled=False)
    for commission in _commissions_of(session, settlement):
        _void(session, commission, memo)


def _between(settlement: Settlement, amount: int) -> list[Any]:
    """`amount` no longer owed by the debtor to the creditor."""
    return pair(
        amount,
        debit="payable",
        credit="receivable",
        debit_business=settlement.creditor_id,
        credit_business=settlement.debtor_id,
        partnership_id=settlement.partnership_id,
    )


def _void(session: Session, commission: Commission, memo: str) -> None:
    if commission.status == CommissionStatus.REVERSED:
        return
    post(
        session,
        "write_off",
        pair(
            -commission.amount_cents,
            debit="receivable",
            credit="payable",
            debit_business=commission.payer_id,
            credit_business=commission.referrer_id,
            partnership_id=commission.partnership_id,
        ),
        currency=commission.currency,
        memo=f"commission void ({memo})",
        commission_id=commission.id,
    )
    commission.status, commission.updated_at = CommissionStatus.REVERSED, utcnow()
    events.commission_moved(session, commission)


def refund_settlement(session: Session, settlement_id: int) -> str:
    """The operator refunds a paid settlement in full; `charge.refunded` books it."""
    settlement = session.get(Settlement, settlement_id)
    if settlement is None:
        raise NotFound("No such settlement.")
    if (
        settlement.status not in (SettlementStatus.PAID, SettlementStatus.DISPUTED)
        or settlement.payment_intent_id is None
    ):
        raise DomainError("Only a paid settlement can be refunded.")
    return gateway.refund_payment(
        payment_intent_id=settlement.payment_intent_id,
        amount_cents=settlement.net_cents - settlement.refunded_cents,
        idempotency_key=f"settlement-{settlement.id}-refund-{settlement.refunded_cents}",
    )
