"""Disputes and refunds of settlement charges.

A dispute holds the settlement's commissions; won, it releases them; lost, or
refunded, it reverses them: the debtor has its money back, the transfer to the
creditor is reversed where the creditor's Stripe balance allows, the platform
gives back its fee in proportion, and the commissions are void. Each step is a
balanced ledger transaction; amounts come from Stripe's own objects.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from referral.commissions.models import Commission
from referral.commissions.services import count_settlement
from referral.db import utcnow
from referral.errors import DomainError, NotFound
from referral.ledger.models import LedgerEntry, LedgerTransaction
from referral.ledger.services import pair, post
from referral.money import format_cents
from referral.notifications.services import notify_business
from referral.payments import gateway
from referral.settlements.models import Settlement


def _by_charge(session: Session, charge_id: object) -> Settlement | None:
    if not isinstance(charge_id, str):
        return None
    return session.exec(  # type: ignore[no-any-return]
        select(Settlement).where(Settlement.charge_id == charge_id).with_for_update()
    ).first()


def _set_commissions(session: Session, settlement: Settlement, old: str, new: str) -> None:
    for commission in session.exec(
        select(Commission).where(
            Commission.settlement_id == settlement.id, Commission.status == old
        )
    ).all():
        commission.status, commission.updated_at = new, utcnow()


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
    settlement = _by_charge(session, obj.get("charge"))
    if settlement is None:
        return "ignored: not a settlement charge"
    if settlement.status != "paid":
        return f"ignored: settlement is {settlement.status}"
    settlement.status, settlement.updated_at = "disputed", utcnow()
    _set_commissions(session, settlement, "paid", "held")
    _tell_both(
        session,
        settlement,
        "settlement.disputed",
        f"The charge of settlement {settlement.id} is disputed; its commissions are on hold",
    )
    return "applied: held"


def apply_dispute_closed(session: Session, obj: dict[str, Any]) -> str:
    settlement = _by_charge(session, obj.get("charge"))
    if settlement is None:
        return "ignored: not a settlement charge"
    if settlement.status != "disputed":
        return f"ignored: settlement is {settlement.status}"
    if obj.get("status") == "won":
        settlement.status, settlement.updated_at = "paid", utcnow()
        _set_commissions(session, settlement, "held", "paid")
        _tell_both(
            session,
            settlement,
            "settlement.dispute_won",
            "The dispute was won; commissions released",
        )
        return "applied: released"
    amount = int(obj.get("amount") or settlement.net_cents)
    reversed_cents = _take_back_transfer(
        settlement, amount, idempotency_key=f"settlement-{settlement.id}-dispute-{obj.get('id')}"
    )
    _reverse(session, settlement, amount, reversed_cents, memo="dispute lost")
    return "applied: reversed"


def _proportional_transfer(settlement: Settlement, amount: int) -> int:
    transferred = settlement.net_cents - settlement.platform_fee_cents
    return (amount * transferred + settlement.net_cents // 2) // settlement.net_cents


def _take_back_transfer(settlement: Settlement, amount: int, *, idempotency_key: str) -> int:
    """Reverse the creditor's share of `amount`; 0 when its balance does not allow it."""
    transfer = gateway.transfer_of_charge(settlement.charge_id or "")
    if transfer is None:
        return 0
    wanted = min(
        _proportional_transfer(settlement, amount), transfer.amount_cents - transfer.reversed_cents
    )
    if wanted <= 0:
        return 0
    try:
        return gateway.reverse_transfer(
            transfer_id=transfer.transfer_id,
            amount_cents=wanted,
            idempotency_key=idempotency_key,
            metadata={"settlement_id": str(settlement.id)},
        )
    except gateway.PaymentRefused:
        return 0


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
    debtor, creditor, pid = settlement.debtor_id, settlement.creditor_id, settlement.partnership_id
    fee_back = min(
        amount - transfer_reversed,
        (amount * settlement.platform_fee_cents + settlement.net_cents // 2)
        // settlement.net_cents,
    )
    loss = amount - transfer_reversed - fee_back
    common = {"currency": settlement.currency, "settlement_id": settlement.id, "memo": memo}
    post(
        session,
        "refund",
        pair(
            amount,
            debit="receivable",
            credit="stripe_balance",
            debit_business=debtor,
            partnership_id=pid,
        ),
        **common,
    )
    post(
        session,
        "transfer_reversal",
        pair(
            transfer_reversed,
            debit="stripe_balance",
            credit="payable",
            credit_business=creditor,
            partnership_id=pid,
        ),
        **common,
    )
    post(
        session,
        "fee_refund",
        pair(
            fee_back,
            debit="platform_fees",
            credit="payable",
            credit_business=creditor,
            partnership_id=pid,
        ),
        **common,
    )
    # What the creditor kept beyond its share: the platform bears it.
    post(
        session,
        "write_off",
        pair(
            loss,
            debit="written_off",
            credit="payable",
            credit_business=creditor,
            partnership_id=pid,
        ),
        **common,
    )
    # The commissions are void: nobody owes the amount any more.
    post(
        session,
        "write_off",
        pair(
            amount,
            debit="payable",
            credit="receivable",
            debit_business=creditor,
            credit_business=debtor,
            partnership_id=pid,
        ),
        **common,
    )
    settlement.refunded_cents += amount
    settlement.updated_at = utcnow()
    if settlement.refunded_cents >= settlement.net_cents:
        settlement.status = "reversed"
        count_settlement(session, settlement, settled=False)
        for status in ("paid", "held"):
            _set_commissions(session, settlement, status, "reversed")
    _tell_both(
        session,
        settlement,
        "settlement.reversed",
        f"{format_cents(amount)} of settlement {settlement.id} went back to the payer ({memo})",
    )


def refund_settlement(session: Session, settlement_id: int) -> str:
    """The operator refunds a paid settlement in full; `charge.refunded` books it."""
    settlement = session.get(Settlement, settlement_id)
    if settlement is None:
        raise NotFound("No such settlement.")
    if settlement.status not in ("paid", "disputed") or settlement.payment_intent_id is None:
        raise DomainError("Only a paid settlement can be refunded.")
    return gateway.refund_payment(
        payment_intent_id=settlement.payment_intent_id,
        amount_cents=settlement.net_cents - settlement.refunded_cents,
        idempotency_key=f"settlement-{settlement.id}-refund-{settlement.refunded_cents}",
    )
