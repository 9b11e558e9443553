"""Transfers to connected accounts, their reversals, and balance transactions."""

from __future__ import annotations

from typing import Any

from .base import (
    Resource,
    StripeError,
    as_int,
    as_metadata,
    as_optional_int,
    missing_param,
    random_id,
    reject_unknown,
)
from .connect import Account
from .events import publish


class BalanceTransaction(Resource):
    """One movement of the platform's balance (charge, refund, transfer, fee...)."""

    object = "balance_transaction"
    _id_prefix = "txn_"

    def __init__(
        self,
        *,
        amount: int,
        currency: str,
        type: str,
        source: str,
        fee: int = 0,
        reporting_category: str | None = None,
        description: str | None = None,
        fee_description: str = "Stripe processing fees",
    ) -> None:
        super().__init__()
        self.amount = amount
        self.available_on = self.created
        self.currency = currency
        self.description = description
        self.exchange_rate = None
        self.fee = fee
        self.fee_details = (
            [
                {
                    "amount": fee,
                    "application": None,
                    "currency": currency,
                    "description": fee_description,
                    "type": "stripe_fee",
                }
            ]
            if fee
            else []
        )
        self.net = amount - fee
        self.reporting_category = reporting_category or type
        self.source = source
        self.status = "available"
        self.type = type


class Transfer(Resource):
    object = "transfer"
    _id_prefix = "tr_"
    _computed = ("reversals",)

    def __init__(
        self,
        *,
        amount: int,
        currency: str,
        destination: str,
        metadata: dict[str, str],
        source_transaction: str | None = None,
        transfer_group: str | None = None,
        description: str | None = None,
    ) -> None:
        super().__init__()
        self.amount = amount
        self.amount_reversed = 0
        self.balance_transaction = BalanceTransaction(
            amount=-amount, currency=currency, type="transfer", source=self.id
        ).id
        self.currency = currency
        self.description = description
        self.destination = destination
        self.destination_payment = "py_" + random_id(24)
        self.metadata = metadata
        self.reversed = False
        self.source_transaction = source_transaction
        self.source_type = "card"
        self.transfer_group = transfer_group
        self._reversal_ids: list[str] = []

    @classmethod
    def _create(cls, params: dict[str, Any]) -> Transfer:
        """POST /v1/transfers. Fails unless the destination finished onboarding."""
        reject_unknown(
            params,
            (
                "amount",
                "currency",
                "destination",
                "metadata",
                "transfer_group",
                "source_transaction",
                "description",
                "source_type",
            ),
        )
        for name in ("amount", "currency", "destination"):
            if params.get(name) in (None, ""):
                raise missing_param(name)
        amount = as_int(params["amount"], "amount", minimum=1)
        Account._receiving(params["destination"], "destination")
        source_transaction = params.get("source_transaction") or None
        if source_transaction:
            from .payments import Charge  # a transfer may be funded by a charge

            Charge._get(source_transaction, "source_transaction")
        transfer = cls(
            amount=amount,
            currency=str(params["currency"]).lower(),
            destination=params["destination"],
            metadata=as_metadata(params.get("metadata")),
            source_transaction=source_transaction,
            transfer_group=params.get("transfer_group") or None,
            description=params.get("description"),
        )
        publish("transfer.created", transfer)
        return transfer

    @property
    def reversals(self) -> dict[str, Any]:
        items = [TransferReversal._get(rid) for rid in reversed(self._reversal_ids)]
        return {
            "object": "list",
            "data": [item._export() for item in items],
            "has_more": False,
            "total_count": len(items),
            "url": f"/v1/transfers/{self.id}/reversals",
        }

    @property
    def _remaining(self) -> int:
        return self.amount - self.amount_reversed

    def _reverse(
        self, amount: int | None, *, metadata: dict[str, str], source_refund: str | None = None
    ) -> TransferReversal:
        """Take money back from the connected account. Fails beyond what is left."""
        if self._remaining <= 0:
            raise StripeError(
                400, f"Transfer {self.id} has already been fully reversed.", param="amount"
            )
        amount = self._remaining if amount is None else amount
        if amount > self._remaining:
            raise StripeError(
                400,
                f"You cannot reverse {amount} when only {self._remaining} remains on "
                f"transfer {self.id}.",
                param="amount",
                saved=False,
            )
        reversal = TransferReversal(self, amount, metadata=metadata, source_refund=source_refund)
        self._reversal_ids.append(reversal.id)
        self.amount_reversed += amount
        self.reversed = self.amount_reversed >= self.amount
        publish("transfer.reversed", self)
        return reversal

    def _api_reverse(self, params: dict[str, Any]) -> TransferReversal:
        reject_unknown(params, ("amount", "metadata", "description", "refund_application_fee"))
        amount = as_optional_int(params.get("amount"), "amount", minimum=1)
        return self._reverse(amount, metadata=as_metadata(params.get("metadata")))


class TransferReversal(Resource):
    object = "transfer_reversal"
    _id_prefix = "trr_"

    def __init__(
        self,
        transfer: Transfer,
        amount: int,
        *,
        metadata: dict[str, str],
        source_refund: str | None,
    ) -> None:
        super().__init__()
        self.amount = amount
        self.balance_transaction = BalanceTransaction(
            amount=amount, currency=transfer.currency, type="transfer_refund", source=self.id
        ).id
        self.currency = transfer.currency
        self.destination_payment_refund = "pyr_" + random_id(24)
        self.metadata = metadata
        self.source_refund = source_refund
        self.transfer = transfer.id
