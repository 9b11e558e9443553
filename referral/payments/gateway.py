"""The one module that talks to Stripe. Everything else calls these functions in
domain terms and gets plain dataclasses back.

The same code talks to real Stripe and to the local stand-in: only the base
address differs (`StripeClient(..., base_addresses=...)`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import stripe
from flask import current_app


class PaymentsUnavailable(Exception):
    """Stripe could not be reached or failed on its side: try again later
    (with the same idempotency key)."""


class PaymentRefused(Exception):
    """Stripe refused the request itself (bad parameters, account not ready)."""


class CardDeclined(Exception):
    def __init__(self, message: str, *, code: str, payment_intent_id: str | None) -> None:
        super().__init__(message)
        self.message, self.code, self.payment_intent_id = message, code, payment_intent_id


class InvalidWebhook(Exception):
    pass


@dataclass(frozen=True)
class AccountState:
    account_id: str
    details_submitted: bool
    charges_enabled: bool
    payouts_enabled: bool
    requirements_due: list[str]
    disabled_reason: str


@dataclass(frozen=True)
class SavedCard:
    payment_method_id: str
    brand: str
    last4: str
    exp_month: int | None
    exp_year: int | None


@dataclass(frozen=True)
class PaymentState:
    payment_intent_id: str
    status: str  # Stripe's: succeeded, processing, requires_payment_method, canceled...
    amount_cents: int
    currency: str
    charge_id: str | None
    metadata: dict[str, str]
    failure_message: str = ""


def client() -> stripe.StripeClient:
    """One client per app (it keeps a connection pool)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    existing = app.extensions.get("stripe_client")
    if existing is None:
        base = app.config.get("STRIPE_API_BASE")
        addresses: Any = {"api": base, "connect": base, "files": base} if base else None
        existing = stripe.StripeClient(
            app.config["STRIPE_SECRET_KEY"],
            base_addresses=addresses,
            max_network_retries=2,
            http_client=stripe.RequestsClient(timeout=app.config["STRIPE_TIMEOUT_SECONDS"]),
        )
        app.extensions["stripe_client"] = existing
    return existing  # type: ignore[no-any-return]


def _call(func: Any, *args: Any, **kwargs: Any) -> Any:
    with stripe_errors():
        return func(*args, **kwargs)


@contextmanager
def stripe_errors() -> Iterator[None]:
    """Stripe's exceptions, translated into this module's three."""
    try:
        yield
    except stripe.CardError as error:
        intent = (error.error.payment_intent if error.error else None) or {}
        intent_id = intent.get("id") if isinstance(intent, dict) else getattr(intent, "id", None)
        code = (error.error.decline_code or error.code) if error.error else error.code
        raise CardDeclined(
            error.user_message or "The card was declined.",
            code=code or "card_declined",
            payment_intent_id=intent_id,
        ) from error
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as error:
        raise PaymentsUnavailable(str(error.user_message or error)) from error
    except stripe.StripeError as error:
        raise PaymentRefused(str(error.user_message or error)) from error


def _account_state(account: Any) -> AccountState:
    requirements = account.get("requirements") or {}
    return AccountState(
        account_id=account["id"],
        details_submitted=bool(account.get("details_submitted")),
        charges_enabled=bool(account.get("charges_enabled")),
        payouts_enabled=bool(account.get("payouts_enabled")),
        requirements_due=list(requirements.get("currently_due") or []),
        disabled_reason=requirements.get("disabled_reason") or "",
    )


def create_express_account(*, email: str, business_name: str, business_id: int) -> AccountState:
    account = _call(
        client().v1.accounts.create,
        params={
            "type": "express",
            "country": "US",
            "email": email,
            "business_profile": {"name": business_name},
            "capabilities": {"transfers": {"requested": True}},
            "metadata": {"business_id": str(business_id)},
        },
        options={"idempotency_key": f"connect-account-business-{business_id}"},
    )
    return _account_state(account.to_dict())


def retrieve_account(account_id: str) -> AccountState:
    return _account_state(_call(client().v1.accounts.retrieve, account_id).to_dict())


def account_state_from_event(obj: dict[str, Any]) -> AccountState:
    return _account_state(obj)


def onboarding_link(*, account_id: str, refresh_url: str, return_url: str) -> str:
    link = _call(
        client().v1.account_links.create,
        params={
            "account": account_id,
            "refresh_url": refresh_url,
            "return_url": return_url,
            "type": "account_onboarding",
        },
    )
    return str(link.url)


def create_customer(*, email: str, name: str, business_id: int) -> str:
    customer = _call(
        client().v1.customers.create,
        params={"email": email, "name": name, "metadata": {"business_id": str(business_id)}},
        options={"idempotency_key": f"customer-business-{business_id}"},
    )
    return str(customer.id)


def card_setup_checkout(
    *, customer_id: str, success_url: str, cancel_url: str, business_id: int
) -> str:
    """A hosted Checkout page (setup mode) where the business saves a card; its URL."""
    session = _call(
        client().v1.checkout.sessions.create,
        params={
            "mode": "setup",
            "customer": customer_id,
            "currency": "usd",
            "payment_method_types": ["card"],
            "success_url": success_url,
            "cancel_url": cancel_url,
            "metadata": {"business_id": str(business_id), "purpose": "settlement_card"},
        },
    )
    return str(session.url)


def saved_card_of_checkout(session_id: str) -> SavedCard | None:
    """The card a completed setup-mode Checkout Session saved (None if none)."""
    session = _call(
        client().v1.checkout.sessions.retrieve,
        session_id,
        params={"expand": ["setup_intent.payment_method"]},
    ).to_dict()
    intent = session.get("setup_intent")
    if not isinstance(intent, dict) or intent.get("status") != "succeeded":
        return None
    method = intent.get("payment_method")
    if isinstance(method, str):
        method = _call(client().v1.payment_methods.retrieve, method).to_dict()
    card = (method or {}).get("card") or {}
    return SavedCard(
        payment_method_id=method["id"],
        brand=str(card.get("brand") or ""),
        last4=str(card.get("last4") or ""),
        exp_month=card.get("exp_month"),
        exp_year=card.get("exp_year"),
    )


def _payment_state(intent: dict[str, Any]) -> PaymentState:
    charge = intent.get("latest_charge")
    error = intent.get("last_payment_error") or {}
    return PaymentState(
        payment_intent_id=intent["id"],
        status=intent["status"],
        amount_cents=int(intent["amount"]),
        currency=str(intent["currency"]).upper(),
        charge_id=charge.get("id") if isinstance(charge, dict) else charge,
        metadata=dict(intent.get("metadata") or {}),
        failure_message=str(error.get("message") or ""),
    )


def payment_state_from_event(obj: dict[str, Any]) -> PaymentState:
    return _payment_state(obj)


def destination_charge(
    *,
    amount_cents: int,
    currency: str,
    customer_id: str,
    payment_method_id: str,
    destination_account_id: str,
    platform_fee_cents: int,
    description: str,
    metadata: dict[str, str],
    idempotency_key: str,
) -> PaymentState:
    """Charge a saved card off-session; Stripe sends the rest to `destination`
    and keeps `platform_fee_cents` for the platform. Raises CardDeclined."""
    intent = _call(
        client().v1.payment_intents.create,
        params={
            "amount": amount_cents,
            "currency": currency.lower(),
            "customer": customer_id,
            "payment_method": payment_method_id,
            "off_session": True,
            "confirm": True,
            "transfer_data": {"destination": destination_account_id},
            "application_fee_amount": platform_fee_cents,
            "description": description,
            "metadata": metadata,
        },
        options={"idempotency_key": idempotency_key},
    )
    return _payment_state(intent.to_dict())


def retrieve_payment(payment_intent_id: str) -> PaymentState:
    return _payment_state(_call(client().v1.payment_intents.retrieve, payment_intent_id).to_dict())


def verify_webhook(payload: bytes, signature_header: str | None) -> dict[str, Any]:
    """The event, if the signature is ours and fresh: within the tolerance either
    side of now (Stripe's library only refuses old timestamps; we refuse future ones too)."""
    config = current_app.config
    tolerance = config["STRIPE_WEBHOOK_TOLERANCE_SECONDS"]
    try:
        # Stripe's own check of the signature; the event is read as plain JSON,
        # as stored, without building a StripeObject that nothing here uses.
        stripe.WebhookSignature.verify_header(
            payload, signature_header, config["STRIPE_WEBHOOK_SECRET"], tolerance=tolerance
        )
        data = json.loads(payload)
    except (stripe.SignatureVerificationError, ValueError) as error:
        raise InvalidWebhook(str(error).split("\n")[0]) from error
    timestamp = _signature_timestamp(signature_header or "")
    if timestamp is None or timestamp > time.time() + tolerance:
        raise InvalidWebhook("Timestamp outside the tolerance zone")
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("id"), str)
        or not isinstance(data.get("type"), str)
    ):
        raise InvalidWebhook("Not an event")
    if not isinstance((data.get("data") or {}).get("object"), dict):
        raise InvalidWebhook("An event without an object")
    return data  # type: ignore[no-any-return]


def _signature_timestamp(header: str) -> int | None:
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            return int(value)
    return None


@dataclass(frozen=True)
class TransferState:
    transfer_id: str
    amount_cents: int
    reversed_cents: int


def transfer_of_charge(charge_id: str) -> TransferState | None:
    """The transfer a destination charge made to the connected account."""
    charge = _call(client().v1.charges.retrieve, charge_id).to_dict()
    transfer = charge.get("transfer")
    if transfer is None:
        return None
    if isinstance(transfer, str):
        transfer = _call(client().v1.transfers.retrieve, transfer).to_dict()
    return TransferState(
        transfer_id=transfer["id"],
        amount_cents=int(transfer["amount"]),
        reversed_cents=int(transfer.get("amount_reversed") or 0),
    )


def reverse_transfer(
    *, transfer_id: str, amount_cents: int, idempotency_key: str, metadata: dict[str, str]
) -> int:
    """Take back `amount_cents` from a connected account; the amount reversed.
    Raises PaymentRefused when the account's balance does not allow it."""
    reversal = _call(
        client().v1.transfers.reversals.create,
        transfer_id,
        params={"amount": amount_cents, "metadata": metadata},
        options={"idempotency_key": idempotency_key},
    )
    return int(reversal.amount)


def refund_payment(*, payment_intent_id: str, amount_cents: int, idempotency_key: str) -> str:
    """Refund a destination charge, taking the money back from the connected
    account and the platform fee in proportion."""
    refund = _call(
        client().v1.refunds.create,
        params={
            "payment_intent": payment_intent_id,
            "amount": amount_cents,
            "reverse_transfer": True,
            "refund_application_fee": True,
        },
        options={"idempotency_key": idempotency_key},
    )
    return str(refund.id)


# What a PaymentIntent pays for, by the metadata key that names it.
PAYS_FOR = ("settlement", "lead_purchase")


@dataclass(frozen=True)
class PaymentRecord:
    """A PaymentIntent as Stripe has it, for reconciliation, tagged with what it
    pays for: `pays_for` ("settlement" or "lead_purchase") and that record's id."""

    payment_intent_id: str
    pays_for: str
    subject_id: int
    status: str
    amount_cents: int
    platform_fee_cents: int
    charge_id: str | None
    refunded_cents: int
    transferred_cents: int
    transfer_reversed_cents: int


def _pays_for(metadata: dict[str, str]) -> tuple[str, int] | None:
    for kind in PAYS_FOR:
        value = metadata.get(f"{kind}_id", "")
        if value.isdigit():
            return kind, int(value)
    return None


def reconcilable_payments(*, created_since: int) -> list[PaymentRecord]:
    """Every PaymentIntent created since then that pays for a settlement or a
    lead purchase (Stripe is listed once)."""
    records = []
    with stripe_errors():
        intents = client().v1.payment_intents.list(
            params={"created": {"gte": created_since}, "limit": 100}
        )
        found = [intent.to_dict() for intent in intents.auto_paging_iter()]
    for data in found:
        subject = _pays_for(data.get("metadata") or {})
        if subject is None:
            continue
        refunded = transferred = reversed_ = 0
        latest = data.get("latest_charge")
        charge_id = latest.get("id") if isinstance(latest, dict) else latest
        if data["status"] == "succeeded" and isinstance(charge_id, str):
            charge = _call(client().v1.charges.retrieve, charge_id).to_dict()
            refunded = int(charge.get("amount_refunded") or 0)
            transfer = transfer_of_charge(charge_id)
            if transfer is not None:
                transferred, reversed_ = transfer.amount_cents, transfer.reversed_cents
        records.append(
            PaymentRecord(
                payment_intent_id=data["id"],
                pays_for=subject[0],
                subject_id=subject[1],
                status=data["status"],
                amount_cents=int(data["amount"]),
                platform_fee_cents=int(data.get("application_fee_amount") or 0),
                charge_id=charge_id if isinstance(charge_id, str) else None,
                refunded_cents=refunded,
                transferred_cents=transferred,
                transfer_reversed_cents=reversed_,
            )
        )
    return records


def payment_checkout(
    *,
    amount_cents: int,
    currency: str,
    product_name: str,
    destination_account_id: str,
    platform_fee_cents: int,
    metadata: dict[str, str],
    success_url: str,
    cancel_url: str,
    idempotency_key: str,
) -> tuple[str, str]:
    """A hosted Checkout page (payment mode) for a destination charge: (id, url)."""
    session = _call(
        client().v1.checkout.sessions.create,
        params={
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": currency.lower(),
                        "unit_amount": amount_cents,
                        "product_data": {"name": product_name},
                    },
                    "quantity": 1,
                }
            ],
            "payment_intent_data": {
                "transfer_data": {"destination": destination_account_id},
                "application_fee_amount": platform_fee_cents,
                "metadata": metadata,
            },
            "metadata": metadata,
            "success_url": success_url,
            "cancel_url": cancel_url,
        },
        options={"idempotency_key": idempotency_key},
    )
    return str(session.id), str(session.url)
