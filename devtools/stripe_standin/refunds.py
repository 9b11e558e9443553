"""Refunds, which can reverse the destination transfer and refund the application fee."""

from __future__ import annotations

from typing import Any

from .base import (
    Resource,
    StripeError,
    as_bool,
    as_metadata,
    as_optional_int,
    invalid_param,
    missing_param,
    proportion,
    reject_unknown,
)
from .events import publish
from .payments import ApplicationFee, Charge, PaymentIntent
from .transfers import BalanceTransaction, Transfer

REASONS = (None, "duplicate", "fraudulent", "requested_by_customer")


class Refund(Resource):
    object = "refund"
    _id_prefix = "re_"

    def __init__(self, charge: Charge, amount: int, params: dict[str, Any]) -> None:
        super().__init__()
        self.amount = amount
        self.balance_transaction = BalanceTransaction(
            amount=-amount, currency=charge.currency, type="refund", source=self.id
        ).id
        self.charge = charge.id
        self.currency = charge.currency
        self.destination_details = {"type": "card", "card": {"type": "refund"}}
        self.metadata = as_metadata(params.get("metadata"))
        self.payment_intent = charge.payment_intent
        self.reason = params.get("reason") or None
        self.source_transfer_reversal = None
        self.status = "succeeded"
        self.transfer_reversal = None

    @classmethod
    def _create(cls, params: dict[str, Any]) -> Refund:
        """POST /v1/refunds. Fails when more is asked than remains on the charge.

        reverse_transfer takes back the same share of the destination transfer
        (rounded to the cent, never more than is left); refund_application_fee
        gives back the same share of the application fee.
        """
        reject_unknown(
            params,
            (
                "payment_intent",
                "charge",
                "amount",
                "reverse_transfer",
                "refund_application_fee",
                "metadata",
                "reason",
                "instructions_email",
            ),
        )
        charge = _charge_to_refund(params)
        amount = as_optional_int(params.get("amount"), "amount", minimum=1)
        reverse_transfer = as_bool(params.get("reverse_transfer"), "reverse_transfer")
        refund_fee = as_bool(params.get("refund_application_fee"), "refund_application_fee")
        if params.get("reason") not in REASONS:
            raise invalid_param("reason")
        if charge._refundable <= 0:
            raise StripeError(
                400,
                f"Charge {charge.id} has already been refunded.",
                code="charge_already_refunded",
            )
        amount = charge._refundable if amount is None else amount
        if amount > charge._refundable:
            raise StripeError(
                400,
                f"Refund amount ({amount}) is greater than unrefunded amount on charge "
                f"({charge._refundable})",
                code="amount_too_large",
                param="amount",
                saved=False,
            )
        if reverse_transfer and not charge.transfer:
            raise invalid_param("reverse_transfer", "This charge has no transfer to reverse.")

        refund = cls(charge, amount, params)
        charge.amount_refunded += amount
        charge.refunded = charge.amount_refunded >= charge.amount
        publish("charge.refunded", charge)
        publish("refund.created", refund)
        if reverse_transfer:
            transfer = Transfer._get(charge.transfer)
            share = min(proportion(transfer.amount, amount, charge.amount), transfer._remaining)
            if share > 0:
                reversal = transfer._reverse(
                    share, metadata=dict(refund.metadata), source_refund=refund.id
                )
                refund.transfer_reversal = reversal.id
        if refund_fee and charge.application_fee:
            fee = ApplicationFee._get(charge.application_fee)
            fee._refund(proportion(fee.amount, amount, charge.amount))
        return refund


def _charge_to_refund(params: dict[str, Any]) -> Charge:
    if params.get("charge"):
        charge = Charge._get(params["charge"], "charge")
    elif params.get("payment_intent"):
        intent = PaymentIntent._get(params["payment_intent"], "payment_intent")
        if intent.status != "succeeded" or not intent.latest_charge:
            raise StripeError(
                400,
                f"This PaymentIntent ({intent.id}) does not have a successful charge to refund.",
                code="charge_not_refundable",
                param="payment_intent",
            )
        charge = Charge._get(intent.latest_charge)
    else:
        raise missing_param("charge")
    if charge.status != "succeeded":
        raise StripeError(
            400,
            f"Charge {charge.id} did not succeed and cannot be refunded.",
            code="charge_not_refundable",
        )
    return charge
