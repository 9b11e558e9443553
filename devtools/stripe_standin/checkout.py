"""Checkout Sessions in setup and payment mode, paid on the local hosted page."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from localstripe import resources as ls

from .base import (
    Resource,
    StripeError,
    as_int,
    as_metadata,
    as_optional_int,
    invalid_param,
    missing_param,
    random_id,
    reject_unknown,
    site,
    store,
)
from .cards import CardBehaviour, card_declined, new_payment_method
from .connect import Account
from .events import publish
from .payments import PaymentIntent, require_customer

DEFAULT_LIFETIME_SECONDS = 24 * 3600

_CREATABLE = (
    "mode",
    "customer",
    "customer_email",
    "currency",
    "success_url",
    "cancel_url",
    "metadata",
    "setup_intent_data",
    "line_items",
    "payment_intent_data",
    "expires_at",
    "client_reference_id",
    "allowed_payment_method_types",
    "locale",
    "customer_creation",
    "submit_type",
    "billing_address_collection",
    "ui_mode",
)


class CheckoutSession(Resource):
    object = "checkout.session"
    _id_prefix = "cs_test_"

    def __init__(self, params: dict[str, Any]) -> None:
        reject_unknown(params, _CREATABLE)
        mode = params.get("mode")
        if not mode:
            raise missing_param("mode")
        if mode not in ("payment", "setup"):
            raise invalid_param("mode", "The stand-in supports mode=payment and mode=setup.")
        if not params.get("success_url"):
            raise missing_param("success_url")
        customer = params.get("customer") or None
        if customer:
            require_customer(customer)
        line_items = _line_items(params.get("line_items")) if mode == "payment" else []
        intent_data = params.get("payment_intent_data") or {}
        currency = str(params.get("currency") or "").lower() or None
        if line_items:
            currency = line_items[0]["currency"]
            if any(item["currency"] != currency for item in line_items):
                raise invalid_param("line_items", "All line items must use the same currency.")
        amount_total = sum(item["amount_total"] for item in line_items)
        destination = (intent_data.get("transfer_data") or {}).get("destination")
        if destination:
            Account._receiving(destination, "payment_intent_data[transfer_data][destination]")
        fee = as_optional_int(
            intent_data.get("application_fee_amount"),
            "payment_intent_data[application_fee_amount]",
            minimum=0,
        )
        if fee is not None and fee > amount_total:
            raise invalid_param(
                "payment_intent_data[application_fee_amount]",
                "The application fee cannot be greater than the amount of the payment.",
            )
        expires_at = as_optional_int(params.get("expires_at"), "expires_at")
        if expires_at is not None and expires_at <= time.time():
            raise invalid_param("expires_at", "expires_at must be in the future.")

        super().__init__()
        self.amount_subtotal = amount_total if mode == "payment" else None
        self.amount_total = amount_total if mode == "payment" else None
        self.cancel_url = params.get("cancel_url")
        self.client_reference_id = params.get("client_reference_id")
        self.currency = currency
        self.customer = customer
        self.customer_details = None
        self.customer_email = params.get("customer_email")
        self.expires_at = expires_at or self.created + DEFAULT_LIFETIME_SECONDS
        self.metadata = as_metadata(params.get("metadata"))
        self.mode = mode
        self.payment_intent = None
        allowed = params.get("allowed_payment_method_types") or None
        if allowed is not None and "card" not in allowed:
            raise invalid_param(
                "allowed_payment_method_types", "The stand-in's hosted page takes cards only."
            )
        self.allowed_payment_method_types = allowed
        self.payment_method_types = ["card"]
        self.payment_status = "unpaid" if mode == "payment" else "no_payment_required"
        self.setup_intent = None
        self.status = "open"
        self.success_url = params["success_url"]
        self.ui_mode = "hosted"
        self.url = f"{site.base_url}/_standin/checkout/{self.id}"
        self._line_items = line_items
        self._intent_data = intent_data
        self._last_error: str | None = None
        if mode == "setup":
            setup_data = params.get("setup_intent_data") or {}
            self.setup_intent = ls.SetupIntent(
                customer=customer, metadata=as_metadata(setup_data.get("metadata"))
            ).id

    @classmethod
    def _create(cls, params: dict[str, Any]) -> CheckoutSession:
        session = cls(params)
        delay = max(0.0, session.expires_at - time.time())
        asyncio.get_running_loop().call_later(delay, _expire_when_due, session.id)
        return session

    @classmethod
    def _get(cls, object_id: str, param: str = "id") -> CheckoutSession:
        session = super()._get(object_id, param)
        if session.status == "open" and time.time() >= session.expires_at:
            session._expire()
        return session

    @property
    def _redirect_url(self) -> str:
        return self.success_url.replace("{CHECKOUT_SESSION_ID}", self.id)

    @property
    def _cancel_url(self) -> str:
        return (self.cancel_url or self.success_url).replace("{CHECKOUT_SESSION_ID}", self.id)

    def _expect_open(self) -> None:
        if self.status != "open":
            raise StripeError(
                400,
                f"This Checkout Session is no longer active (status {self.status}).",
                code="checkout_session_not_open" if self.status == "expired" else None,
            )

    def _expire(self) -> None:
        """At expires_at, or when expired through the API."""
        self._expect_open()
        self.status = "expired"
        self.url = None
        if self.setup_intent:
            ls.SetupIntent._api_retrieve(self.setup_intent).status = "canceled"
        if self.payment_intent:
            intent = PaymentIntent._get(self.payment_intent)
            if intent.status in ("requires_payment_method", "requires_confirmation"):
                intent.status = "canceled"
                intent.cancellation_reason = "abandoned"
        publish("checkout.session.expired", self)

    def _pay_with(self, card: CardBehaviour) -> None:
        """The customer submits a test card on the hosted page.

        Fails with a 402 card_error when the card is declined; the session
        stays open so another card can be tried.
        """
        self._expect_open()
        try:
            if self.mode == "setup":
                self._save_card(card)
            else:
                self._charge_card(card)
        except StripeError as error:
            self._last_error = error.body.get("message")
            raise
        self._last_error = None
        self.status = "complete"
        self.url = None
        self.customer_details = {
            "email": self.customer_email or getattr(self._customer_object(), "email", None),
            "name": None,
            "phone": None,
            "address": None,
            "tax_exempt": "none",
            "tax_ids": [],
        }
        publish("checkout.session.completed", self)

    def _customer_object(self) -> Any:
        return ls.Customer._api_retrieve(self.customer) if self.customer else None

    def _save_card(self, card: CardBehaviour) -> None:
        setup_intent = ls.SetupIntent._api_retrieve(self.setup_intent)
        if card.fails_at_setup:
            error = card_declined(card.decline_code or "generic_decline")
            setup_intent.last_setup_error = error.body
            error.body["setup_intent"] = setup_intent._export()
            publish("setup_intent.setup_failed", setup_intent)
            raise error
        if not self.customer:
            # Setup mode always leaves a customer to charge later.
            self.customer = ls.Customer(email=self.customer_email).id
            setup_intent.customer = self.customer
        payment_method = new_payment_method(card, customer=self.customer)
        setup_intent.payment_method = payment_method.id
        setup_intent.status = "succeeded"
        setup_intent.last_setup_error = None
        publish("payment_method.attached", payment_method)
        publish("setup_intent.succeeded", setup_intent)

    def _charge_card(self, card: CardBehaviour) -> None:
        intent = self._payment_intent()
        intent.payment_method = new_payment_method(card).id
        intent.status = "requires_confirmation"
        intent._confirm(present=True)  # the payer is on the page: 3-D Secure is done here
        self.payment_status = "paid"

    def _payment_intent(self) -> PaymentIntent:
        """Created at the first attempt (as Stripe does lazily) and reused after a decline."""
        if self.payment_intent:
            return PaymentIntent._get(self.payment_intent)
        data = self._intent_data
        params: dict[str, Any] = {
            "amount": self.amount_total,
            "currency": self.currency,
            "metadata": data.get("metadata") or {},
        }
        if self.customer:
            params["customer"] = self.customer
        for key in (
            "transfer_data",
            "application_fee_amount",
            "description",
            "transfer_group",
            "on_behalf_of",
            "receipt_email",
        ):
            if data.get(key) not in (None, ""):
                params[key] = data[key]
        intent = PaymentIntent(params)
        self.payment_intent = intent.id
        publish("payment_intent.created", intent)
        return intent

    def _line_items_list(self) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [dict(item) for item in self._line_items],
            "has_more": False,
            "url": f"/v1/checkout/sessions/{self.id}/line_items",
        }


def _expire_when_due(session_id: str) -> None:
    session = store.get(f"checkout.session:{session_id}")
    if session is None or session.status != "open":
        return  # reset, completed or already expired
    if time.time() < session.expires_at:  # a timer can fire a hair early
        asyncio.get_running_loop().call_later(0.05, _expire_when_due, session_id)
        return
    session._expire()


def _line_items(raw: Any) -> list[dict[str, Any]]:
    if not raw:
        raise missing_param("line_items")
    if not isinstance(raw, list):
        raise invalid_param("line_items")
    items = []
    for index, item in enumerate(raw):
        param = f"line_items[{index}]"
        price_data = item.get("price_data") if isinstance(item, dict) else None
        if not price_data:
            raise invalid_param(param, "The stand-in supports line items with price_data only.")
        unit_amount = as_int(
            price_data.get("unit_amount"), f"{param}[price_data][unit_amount]", minimum=0
        )
        quantity = as_int(item.get("quantity", 1), f"{param}[quantity]", minimum=1)
        currency = str(price_data.get("currency") or "").lower()
        if not currency:
            raise missing_param(f"{param}[price_data][currency]")
        name = (price_data.get("product_data") or {}).get("name")
        if not name:
            raise missing_param(f"{param}[price_data][product_data][name]")
        items.append(
            {
                "id": "li_" + random_id(24),
                "object": "item",
                "amount_discount": 0,
                "amount_subtotal": unit_amount * quantity,
                "amount_tax": 0,
                "amount_total": unit_amount * quantity,
                "currency": currency,
                "description": name,
                "price": {
                    "id": "price_" + random_id(24),
                    "object": "price",
                    "currency": currency,
                    "unit_amount": unit_amount,
                    "product": "prod_" + random_id(14),
                    "type": "one_time",
                    "livemode": False,
                },
                "quantity": quantity,
            }
        )
    return items
