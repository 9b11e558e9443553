"""The one module that talks to Stripe. Everything else calls these functions in
domain terms and gets plain dataclasses back.

The same code talks to real Stripe and to the local stand-in: only the base
address differs (`StripeClient(..., base_addresses=...)`).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from flask import current_app

if TYPE_CHECKING:
    import stripe
else:

    class _ImportedOnFirstUse:
        """stripe-python (about 30 MiB with the HTTP libraries it loads), imported
        by the first call that talks to Stripe: a web worker that only serves
        pages and API reads never holds it."""

        def __getattr__(self, name: str) -> Any:
            import stripe as module

            globals()["stripe"] = module  # later calls find the module itself
            return getattr(module, name)

    stripe = _ImportedOnFirstUse()

# The API version this code speaks: the one the installed stripe-python pins
# (its typed params and resources are written for it; tests/payments checks
# that the two agree, so upgrading the SDK means changing this on purpose).
# Sent on every request, so the account's default version never applies, and
# checked on every event.
API_VERSION = "2026-10-28.endive"

# The payment methods both Checkout flows offer: cards settle at once (no method
# that confirms days later, while a lead's place is held for minutes).
CARD_ONLY = ("card",)
# Stripe's shortest Checkout Session lifetime (it accepts 30 minutes to 24 hours).
CHECKOUT_LIFETIME_SECONDS = 30 * 60


# Why Stripe said no, and so what to do (one class each):
#   CardDeclined            the payer's card: retry on a schedule, ask for another card;
#   AuthenticationRequired  the payer's bank wants them present: ask them to pay on-session;
#   DestinationNotReady     the connected account cannot receive: its owner finishes onboarding;
#   PaymentRefused          our request was wrong: no retry, the operator looks;
#   PaymentsUnavailable     Stripe down or rate limited: retry later with the same key.


class PaymentsUnavailable(Exception):
    """Stripe could not be reached, failed on its side or rate limited us (after
    the client's own retries): try again later with the same idempotency key."""


class PaymentRefused(Exception):
    """Stripe refused the request itself: it was wrong (a bug or a setting), and
    sending it again would be refused again."""


class DestinationNotReady(PaymentRefused):
    """The connected account to be paid cannot receive transfers yet."""


class CardDeclined(Exception):
    """The payer's card was declined (insufficient funds, expired...)."""

    def __init__(self, message: str, *, code: str, payment_intent_id: str | None) -> None:
        super().__init__(message)
        self.message, self.code, self.payment_intent_id = message, code, payment_intent_id


class AuthenticationRequired(CardDeclined):
    """The payer's bank asks them to authenticate (3-D Secure): an off-session
    charge cannot succeed; they must pay on a page of Stripe's."""


# Stripe's error codes for a destination that cannot receive money.
DESTINATION_NOT_READY_CODES = frozenset(
    {"insufficient_capabilities_for_transfer", "account_invalid", "transfers_not_allowed"}
)


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
    failure_code: str = ""  # the last error's decline code or code

    @property
    def needs_authentication(self) -> bool:
        return self.failure_code == "authentication_required"


def client() -> stripe.StripeClient:
    """One client per app (it keeps a connection pool)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    existing = app.extensions.get("stripe_client")
    if existing is None:
        base = app.config.get("STRIPE_API_BASE")
        addresses: Any = {"api": base, "connect": base, "files": base} if base else None
        existing = stripe.StripeClient(
            app.config["STRIPE_SECRET_KEY"],
            stripe_version=API_VERSION,
            base_addresses=addresses,
            max_network_retries=2,
            http_client=stripe.RequestsClient(timeout=app.config["STRIPE_TIMEOUT_SECONDS"]),
        )
        app.extensions["stripe_client"] = existing
    return existing  # type: ignore[no-any-return]


def namespaced_key(key: str, params: dict[str, Any]) -> str:
    """`key` (from our own ids) namespaced by this install and followed by a hash
    of the parameters: a retry of the same request replays Stripe's answer, while
    the same record asked with other parameters (say, the debtor's new card) is a
    new request instead of an idempotency error."""
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode())
    install = current_app.config["STRIPE_INSTALL_ID"]
    return f"{install}-{key}-{digest.hexdigest()[:16]}"


def _write(func: Any, *args: Any, params: dict[str, Any], key: str) -> Any:
    """A creating call with its namespaced idempotency key."""
    options = {"idempotency_key": namespaced_key(key, params)}
    return _call(func, *args, params=params, options=options)


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
        kind = (
            AuthenticationRequired
            if "authentication_required" in (code, error.code)
            else CardDeclined
        )
        raise kind(
            error.user_message or "The card was declined.",
            code=code or "card_declined",
            payment_intent_id=intent_id,
        ) from error
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as error:
        raise PaymentsUnavailable(str(error.user_message or error)) from error
    except stripe.InvalidRequestError as error:
        message = str(error.user_message or error)
        if error.code in DESTINATION_NOT_READY_CODES or (error.param or "").endswith(
            "[destination]"
        ):
            raise DestinationNotReady(message) from error
        raise PaymentRefused(message) from error
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
    account = _write(
        client().v1.accounts.create,
        params={
            "type": "express",
            "country": "US",
            "email": email,
            "business_profile": {"name": business_name},
            "capabilities": {"transfers": {"requested": True}},
            "metadata": {"business_id": str(business_id)},
        },
        key=f"connect-account-business-{business_id}",
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
    customer = _write(
        client().v1.customers.create,
        params={"email": email, "name": name, "metadata": {"business_id": str(business_id)}},
        key=f"customer-business-{business_id}",
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
            "allowed_payment_method_types": list(CARD_ONLY),
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
        failure_code=str(error.get("decline_code") or error.get("code") or ""),
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
    intent = _write(
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
        key=idempotency_key,
    )
    return _payment_state(intent.to_dict())


def retrieve_payment(payment_intent_id: str) -> PaymentState:
    return _payment_state(_call(client().v1.payment_intents.retrieve, payment_intent_id).to_dict())


# Stripe's two kinds of webhook endpoint, each with its own signing secret: the
# platform's (events on our own account) and Connect's (events on connected
# accounts, which carry `account`).
ENDPOINT_SECRETS = {
    "platform": "STRIPE_WEBHOOK_SECRET",
    "connect": "STRIPE_CONNECT_WEBHOOK_SECRET",
}


class DisputeStage(StrEnum):
    """What a dispute's status means for money (Stripe's list of statuses)."""

    INQUIRY = "inquiry"  # warning_needs_response, warning_under_review: nothing withdrawn
    CHARGEBACK = "chargeback"  # needs_response, under_review: the amount is withdrawn
    WON = "won"  # the amount came back
    LOST = "lost"  # the cardholder keeps the amount
    NOTHING_MOVED = "nothing_moved"  # warning_closed (inquiry over), prevented (never filed)
    UNKNOWN = "unknown"  # a status this code does not know: never acted on


DISPUTE_STAGES = {
    "warning_needs_response": DisputeStage.INQUIRY,
    "warning_under_review": DisputeStage.INQUIRY,
    "warning_closed": DisputeStage.NOTHING_MOVED,
    "needs_response": DisputeStage.CHARGEBACK,
    "under_review": DisputeStage.CHARGEBACK,
    "won": DisputeStage.WON,
    "lost": DisputeStage.LOST,
    "prevented": DisputeStage.NOTHING_MOVED,
}


def dispute_stage(status: object) -> DisputeStage:
    return DISPUTE_STAGES.get(str(status), DisputeStage.UNKNOWN)


def verify_webhook(
    payload: bytes, signature_header: str | None, *, endpoint: str = "platform"
) -> dict[str, Any]:
    """The event, if it is signed with this endpoint's secret, fresh (within the
    tolerance either side of now: Stripe's library only refuses old timestamps)
    and of this endpoint's kind (a Connect event names its account; a platform
    event does not)."""
    config = current_app.config
    tolerance = config["STRIPE_WEBHOOK_TOLERANCE_SECONDS"]
    try:
        # Stripe's own check of the signature; the event is read as plain JSON,
        # as stored, without building a StripeObject that nothing here uses.
        stripe.WebhookSignature.verify_header(
            payload, signature_header, config[ENDPOINT_SECRETS[endpoint]], tolerance=tolerance
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
    if bool(data.get("account")) != (endpoint == "connect"):
        raise InvalidWebhook(f"Not an event for the {endpoint} endpoint")
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
    reversal = _write(
        client().v1.transfers.reversals.create,
        transfer_id,
        params={"amount": amount_cents, "metadata": metadata},
        key=idempotency_key,
    )
    return int(reversal.amount)


def take_back_transfer(
    *, charge_id: str, amount_cents: int, idempotency_key: str, metadata: dict[str, str]
) -> int:
    """Reverse up to `amount_cents` of what a destination charge transferred
    (never more than is left); the amount reversed, 0 when the connected
    account's balance does not allow it."""
    transfer = transfer_of_charge(charge_id)
    if transfer is None:
        return 0
    wanted = min(amount_cents, transfer.amount_cents - transfer.reversed_cents)
    if wanted <= 0:
        return 0
    try:
        return reverse_transfer(
            transfer_id=transfer.transfer_id,
            amount_cents=wanted,
            idempotency_key=idempotency_key,
            metadata=metadata,
        )
    except PaymentRefused:
        return 0


def refund_payment(*, payment_intent_id: str, amount_cents: int, idempotency_key: str) -> str:
    """Refund a destination charge, taking the money back from the connected
    account and the platform fee in proportion."""
    refund = _write(
        client().v1.refunds.create,
        params={
            "payment_intent": payment_intent_id,
            "amount": amount_cents,
            "reverse_transfer": True,
            "refund_application_fee": True,
        },
        key=idempotency_key,
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
    # What Stripe withdrew from the platform for a dispute on the charge (net of
    # what it gave back when the dispute was won), and its dispute fees.
    disputed_cents: int = 0
    dispute_fee_cents: int = 0


def dispute_funds(dispute: Any) -> tuple[int, int]:
    """(amount withdrawn net of reinstatements, fees) from a dispute's balance
    transactions, as Stripe lists them on the dispute (an id is retrieved)."""
    if isinstance(dispute, str):
        dispute = _call(client().v1.disputes.retrieve, dispute).to_dict()
    if not isinstance(dispute, dict):
        return 0, 0
    withdrawn = fees = 0
    for txn in dispute.get("balance_transactions") or []:
        if isinstance(txn, dict):
            withdrawn -= int(txn.get("amount") or 0)
            fees += int(txn.get("fee") or 0)
    return withdrawn, fees


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
        refunded = transferred = reversed_ = disputed = dispute_fees = 0
        latest = data.get("latest_charge")
        charge_id = latest.get("id") if isinstance(latest, dict) else latest
        if data["status"] == "succeeded" and isinstance(charge_id, str):
            charge = _call(client().v1.charges.retrieve, charge_id).to_dict()
            refunded = int(charge.get("amount_refunded") or 0)
            if charge.get("dispute"):
                disputed, dispute_fees = dispute_funds(charge["dispute"])
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
                disputed_cents=disputed,
                dispute_fee_cents=dispute_fees,
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
    customer_id: str | None = None,
) -> tuple[str, str]:
    """A hosted Checkout page (payment mode) for a destination charge, open for
    30 minutes, cards only: (id, url). With `customer_id` the payment is the
    customer's (their saved card is offered)."""
    customer: dict[str, Any] = {"customer": customer_id} if customer_id else {}
    session = _write(
        client().v1.checkout.sessions.create,
        params={
            **customer,
            "mode": "payment",
            "allowed_payment_method_types": list(CARD_ONLY),
            "expires_at": int(time.time()) + CHECKOUT_LIFETIME_SECONDS,
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
        key=idempotency_key,
    )
    return str(session.id), str(session.url)


def open_checkout_for(*, customer_id: str, metadata: dict[str, str]) -> str | None:
    """The URL of the customer's open Checkout Session carrying `metadata`, if any."""
    with stripe_errors():
        sessions = client().v1.checkout.sessions.list(
            params={"customer": customer_id, "status": "open", "limit": 100}
        )
        for found in sessions.auto_paging_iter():
            tags = found.metadata.to_dict() if found.metadata else {}
            if found.url and all(tags.get(key) == value for key, value in metadata.items()):
                return str(found.url)
    return None


def open_checkout_url(session_id: str) -> str | None:
    """The hosted page's URL while the Checkout Session is still open, else None."""
    session = _call(client().v1.checkout.sessions.retrieve, session_id)
    return str(session.url) if session.status == "open" and session.url else None


@dataclass(frozen=True)
class WebhookEndpointState:
    endpoint_id: str
    url: str
    api_version: str | None
    enabled_events: list[str]
    secret: str | None  # only when just created: Stripe shows it once


def webhook_endpoints() -> list[WebhookEndpointState]:
    """The account's webhook endpoints."""
    with stripe_errors():
        found = client().v1.webhook_endpoints.list(params={"limit": 100})
        return [_endpoint_state(item.to_dict()) for item in found.auto_paging_iter()]


def create_webhook_endpoint(
    *, url: str, events: list[str], connect: bool, description: str
) -> WebhookEndpointState:
    """A webhook endpoint in API_VERSION for exactly `events`; `connect` makes it
    the Connect endpoint (connected accounts' events). Its secret comes back once."""
    endpoint = _call(
        client().v1.webhook_endpoints.create,
        params={
            "url": url,
            "enabled_events": events,  # type: ignore[typeddict-item]
            "api_version": API_VERSION,  # type: ignore[typeddict-item]
            "connect": connect,
            "description": description,
        },
    )
    return _endpoint_state(endpoint.to_dict())


def _endpoint_state(data: dict[str, Any]) -> WebhookEndpointState:
    return WebhookEndpointState(
        endpoint_id=data["id"],
        url=data["url"],
        api_version=data.get("api_version"),
        enabled_events=list(data.get("enabled_events") or []),
        secret=data.get("secret"),
    )
