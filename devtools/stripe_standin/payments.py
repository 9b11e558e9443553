"""PaymentIntents and their charges, with Connect destination charges.

A destination charge (`transfer_data[destination]`) succeeds into a Charge,
a Transfer of `amount - application_fee_amount` to the connected account and
an ApplicationFee, as on Stripe. The saved card decides the outcome (see
cards.py).
"""

from __future__ import annotations

from typing import Any

from localstripe import resources as ls
from localstripe.errors import UserError

from .base import (
    Resource,
    StripeError,
    as_bool,
    as_int,
    as_metadata,
    as_optional_int,
    invalid_param,
    merge_metadata,
    missing_param,
    no_such,
    random_id,
    reject_unknown,
)
from .cards import DECLINE_MESSAGES, card_declined, card_of
from .connect import Account
from .events import publish
from .transfers import BalanceTransaction, Transfer

# A flat, Stripe-like processing fee, so balance transactions have a real `fee`.
STRIPE_FEE_PERCENT = 2.9
STRIPE_FEE_FIXED = 30


def require_customer(customer_id: str, param: str = "customer") -> ls.Customer:
    try:
        return ls.Customer._api_retrieve(customer_id)
    except UserError:
        raise no_such("customer", customer_id, param) from None


def require_payment_method(payment_method_id: str, param: str = "payment_method") -> Any:
    try:
        return ls.PaymentMethod._api_retrieve(payment_method_id)
    except UserError:
        raise StripeError(
            404,
            f"No such PaymentMethod: '{payment_method_id}'",
            code="resource_missing",
            param=param,
        ) from None


def card_details(payment_method: Any) -> dict[str, Any]:
    card = getattr(payment_method, "card", None) or {}
    return {
        "type": "card",
        "card": {
            "brand": card.get("brand", "visa"),
            "country": card.get("country", "US"),
            "exp_month": card.get("exp_month"),
            "exp_year": card.get("exp_year"),
            "fingerprint": card.get("fingerprint"),
            "funding": card.get("funding", "credit"),
            "last4": card.get("last4"),
            "network": "visa",
        },
    }


class ApplicationFee(Resource):
    object = "application_fee"
    _id_prefix = "fee_"

    def __init__(self, charge: Charge, amount: int, account: str) -> None:
        super().__init__()
        self.account = account
        self.amount = amount
        self.amount_refunded = 0
        self.application = "ca_standin"
        self.balance_transaction = BalanceTransaction(
            amount=amount, currency=charge.currency, type="application_fee", source=self.id
        ).id
        self.charge = charge.id
        self.currency = charge.currency
        self.originating_transaction = None
        self.refunded = False
        self.refunds: dict[str, Any] = {
            "object": "list",
            "data": [],
            "has_more": False,
            "total_count": 0,
            "url": f"/v1/application_fees/{self.id}/refunds",
        }

    def _refund(self, amount: int) -> None:
        amount = min(amount, self.amount - self.amount_refunded)
        if amount <= 0:
            return
        refund = {
            "id": "fr_" + random_id(24),
            "object": "fee_refund",
            "amount": amount,
            "balance_transaction": BalanceTransaction(
                amount=-amount,
                currency=self.currency,
                type="application_fee_refund",
                source=self.id,
            ).id,
            "currency": self.currency,
            "fee": self.id,
            "metadata": {},
        }
        self.refunds["data"].insert(0, refund)
        self.refunds["total_count"] += 1
        self.amount_refunded += amount
        self.refunded = self.amount_refunded >= self.amount
        publish("application_fee.refunded", self)


class Charge(Resource):
    object = "charge"
    _id_prefix = "ch_"

    def __init__(
        self, intent: PaymentIntent, payment_method: Any, decline_code: str | None
    ) -> None:
        super().__init__()
        failed = decline_code is not None
        destination = (intent.transfer_data or {}).get("destination")
        self.amount = intent.amount
        self.amount_captured = 0 if failed else intent.amount
        self.amount_refunded = 0
        self.application_fee = None
        self.application_fee_amount = intent.application_fee_amount
        self.balance_transaction = None
        self.billing_details = getattr(payment_method, "billing_details", {}) or {}
        self.captured = not failed
        self.currency = intent.currency
        self.customer = intent.customer
        self.description = intent.description
        self.destination = destination
        self.dispute = None
        self.disputed = False
        self.failure_code = "card_declined" if failed else None
        self.failure_message = DECLINE_MESSAGES.get(decline_code or "") if failed else None
        self.metadata = dict(intent.metadata)
        self.on_behalf_of = intent.on_behalf_of
        self.outcome = _outcome(decline_code)
        self.paid = not failed
        self.payment_intent = intent.id
        self.payment_method = payment_method.id
        self.payment_method_details = card_details(payment_method)
        self.receipt_email = intent.receipt_email
        self.refunded = False
        self.status = "failed" if failed else "succeeded"
        self.transfer = None
        self.transfer_data = dict(intent.transfer_data) if intent.transfer_data else None
        self.transfer_group = intent.transfer_group
        if not failed:
            self._move_funds(intent)

    def _move_funds(self, intent: PaymentIntent) -> None:
        """The money side of a successful charge: balance, fee, destination transfer."""
        stripe_fee = round(self.amount * STRIPE_FEE_PERCENT / 100) + STRIPE_FEE_FIXED
        self.balance_transaction = BalanceTransaction(
            amount=self.amount,
            currency=self.currency,
            type="charge",
            source=self.id,
            fee=stripe_fee,
        ).id
        if not self.destination:
            return
        fee_amount = self.application_fee_amount or 0
        transfer_amount = (self.transfer_data or {}).get("amount")
        transfer_amount = int(transfer_amount) if transfer_amount else self.amount - fee_amount
        transfer = Transfer(
            amount=transfer_amount,
            currency=self.currency,
            destination=self.destination,
            metadata=dict(self.metadata),
            source_transaction=self.id,
            transfer_group=self.transfer_group or f"group_{intent.id}",
        )
        self.transfer = transfer.id
        if fee_amount:
            self.application_fee = ApplicationFee(self, fee_amount, self.destination).id

    @property
    def _refundable(self) -> int:
        return self.amount - self.amount_refunded


def _outcome(decline_code: str | None) -> dict[str, Any]:
    if decline_code is None:
        return {
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "seller_message": "Payment complete.",
            "type": "authorized",
        }
    return {
        "network_status": "declined_by_network",
        "reason": decline_code,
        "risk_level": "normal",
        "seller_message": "The bank did not return any further details with this decline.",
        "type": "issuer_declined",
    }


class PaymentIntent(Resource):
    object = "payment_intent"
    _id_prefix = "pi_"
    _creatable = (
        "amount",
        "currency",
        "customer",
        "payment_method",
        "off_session",
        "confirm",
        "transfer_data",
        "application_fee_amount",
        "metadata",
        "description",
        "payment_method_types",
        "capture_method",
        "confirmation_method",
        "receipt_email",
        "statement_descriptor",
        "statement_descriptor_suffix",
        "transfer_group",
        "on_behalf_of",
        "setup_future_usage",
        "automatic_payment_methods",
        "return_url",
        "error_on_requires_action",
        "payment_method_options",
    )

    def __init__(self, params: dict[str, Any]) -> None:
        reject_unknown(params, self._creatable)
        if params.get("amount") in (None, ""):
            raise missing_param("amount")
        if not params.get("currency"):
            raise missing_param("currency")
        amount = as_int(params["amount"], "amount", minimum=1)
        fee = as_optional_int(
            params.get("application_fee_amount"), "application_fee_amount", minimum=0
        )
        if fee is not None and fee > amount:
            raise invalid_param(
                "application_fee_amount",
                "The application fee cannot be greater than the amount of the payment.",
            )
        if params.get("capture_method") == "manual":
            raise invalid_param("capture_method", "The stand-in only captures automatically.")
        transfer_data = params.get("transfer_data") or None
        if transfer_data is not None:
            if not isinstance(transfer_data, dict) or not transfer_data.get("destination"):
                raise missing_param("transfer_data[destination]")
            Account._receiving(transfer_data["destination"], "transfer_data[destination]")
        customer = params.get("customer") or None
        if customer:
            require_customer(customer)
        payment_method = params.get("payment_method") or None
        if payment_method:
            payment_method = require_payment_method(payment_method).id
        super().__init__()
        self.amount = amount
        self.amount_capturable = 0
        self.amount_received = 0
        self.application = None
        self.application_fee_amount = fee
        self.canceled_at = None
        self.cancellation_reason = None
        self.capture_method = "automatic"
        self.client_secret = f"{self.id}_secret_{random_id(24)}"
        self.confirmation_method = "automatic"
        self.currency = str(params["currency"]).lower()
        self.customer = customer
        self.description = params.get("description")
        self.last_payment_error = None
        self.latest_charge = None
        self.metadata = as_metadata(params.get("metadata"))
        self.next_action = None
        self.on_behalf_of = params.get("on_behalf_of")
        self.payment_method = payment_method
        self.payment_method_options = {}
        self.payment_method_types = ["card"]
        self.receipt_email = params.get("receipt_email")
        self.setup_future_usage = params.get("setup_future_usage")
        self.statement_descriptor = params.get("statement_descriptor")
        self.statement_descriptor_suffix = params.get("statement_descriptor_suffix")
        self.status = "requires_confirmation" if payment_method else "requires_payment_method"
        self.transfer_data = (
            {key: transfer_data[key] for key in ("destination", "amount") if key in transfer_data}
            if transfer_data
            else None
        )
        if self.transfer_data and "amount" in self.transfer_data:
            self.transfer_data["amount"] = as_int(
                self.transfer_data["amount"], "transfer_data[amount]"
            )
        self.transfer_group = params.get("transfer_group")

    @classmethod
    def _create(cls, params: dict[str, Any]) -> PaymentIntent:
        """POST /v1/payment_intents; with confirm=true it charges at once.

        Fails with a 402 card_error when the card is declined (the intent and
        its failed charge are kept, as on Stripe).
        """
        confirm = as_bool(params.get("confirm"), "confirm")
        off_session = as_bool(params.get("off_session"), "off_session")
        intent = cls(params)
        publish("payment_intent.created", intent)
        if confirm:
            intent._confirm(off_session=off_session)
        return intent

    def _update(self, params: dict[str, Any]) -> None:
        reject_unknown(params, ("metadata", "description", "receipt_email", "payment_method"))
        if "payment_method" in params:
            self._expect_status("requires_payment_method", "requires_confirmation")
            self.payment_method = require_payment_method(params["payment_method"]).id
            self.status = "requires_confirmation"
        if "metadata" in params:
            self.metadata = merge_metadata(self.metadata, params["metadata"])
        for key in ("description", "receipt_email"):
            if key in params:
                setattr(self, key, params[key] or None)

    def _api_confirm(self, params: dict[str, Any]) -> PaymentIntent:
        reject_unknown(
            params, ("payment_method", "off_session", "return_url", "error_on_requires_action")
        )
        if params.get("payment_method"):
            self.payment_method = require_payment_method(params["payment_method"]).id
        self._confirm(off_session=as_bool(params.get("off_session"), "off_session"))
        return self

    def _api_cancel(self, params: dict[str, Any]) -> PaymentIntent:
        reject_unknown(params, ("cancellation_reason",))
        self._expect_status("requires_payment_method", "requires_confirmation", "requires_action")
        self.status = "canceled"
        self.canceled_at = self.created
        self.cancellation_reason = params.get("cancellation_reason") or "requested_by_customer"
        publish("payment_intent.canceled", self)
        return self

    def _expect_status(self, *allowed: str) -> None:
        if self.status not in allowed:
            raise StripeError(
                400,
                f"This PaymentIntent's status is {self.status}, which does not allow this action.",
                code="payment_intent_unexpected_state",
                payment_intent=self._export(),
            )

    def _confirm(self, *, off_session: bool = False, present: bool = False) -> None:
        """Charge the payment method. Fails with a 402 card_error on a decline.

        A card that asks for authentication succeeds only with the payer
        `present` on Stripe's page; off-session it fails (authentication_required,
        the intent waits in requires_payment_method); on-session through the API
        the intent waits in requires_action."""
        self._expect_status("requires_payment_method", "requires_confirmation")
        if not self.payment_method:
            raise StripeError(
                400,
                "You cannot confirm this PaymentIntent because it's missing a payment method.",
                code="payment_intent_unexpected_state",
                param="payment_method",
            )
        if self.transfer_data:
            Account._receiving(self.transfer_data["destination"], "transfer_data[destination]")
        payment_method = require_payment_method(self.payment_method)
        card = card_of(payment_method)
        decline_code = card.decline_code
        if card.requires_authentication and not present:
            if not off_session:
                self.status = "requires_action"
                self.next_action = {"type": "use_stripe_sdk", "use_stripe_sdk": {}}
                publish("payment_intent.requires_action", self)
                return
            decline_code = "authentication_required"
        charge = Charge(self, payment_method, decline_code)
        self.latest_charge = charge.id
        if decline_code is not None:
            self._fail(charge, payment_method, decline_code)
        self.status = "succeeded"
        self.amount_received = self.amount
        self.last_payment_error = None
        publish("charge.succeeded", charge)
        publish("payment_intent.succeeded", self)
        if charge.transfer:
            publish("transfer.created", Transfer._get(charge.transfer))
        if charge.application_fee:
            publish("application_fee.created", ApplicationFee._get(charge.application_fee))

    def _fail(self, charge: Charge, payment_method: Any, decline_code: str) -> None:
        error = card_declined(decline_code)
        self.status = "requires_payment_method"
        self.payment_method = None  # Stripe detaches a declined method from the intent
        self.last_payment_error = {
            **error.body,
            "charge": charge.id,
            "payment_method": payment_method._export(),
        }
        publish("charge.failed", charge)
        publish("payment_intent.payment_failed", self)
        raise card_declined(
            decline_code,
            charge=charge.id,
            payment_intent=self._export(),
            payment_method=payment_method._export(),
        )
