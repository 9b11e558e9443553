"""The /v1 routes: Stripe's URLs, form-encoded params in, Stripe's JSON out.

Customers, payment methods and setup intents are localstripe's own handlers;
everything Connect, payments and Checkout is the stand-in's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web
from localstripe import resources as ls
from localstripe import server as ls_server

from .base import (
    StripeError,
    export,
    list_object,
    merge_metadata,
    no_such,
    reject_unknown,
    search_object,
)
from .checkout import CheckoutSession
from .connect import Account, AccountLink
from .disputes import Dispute
from .events import Event, WebhookEndpoint
from .payments import ApplicationFee, Charge, PaymentIntent
from .refunds import Refund
from .transfers import BalanceTransaction, Transfer, TransferReversal

routes = web.RouteTableDef()


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.json_response(
        body, status=status, dumps=lambda data: json.dumps(data, indent=2, sort_keys=True) + "\n"
    )


async def read_params(request: web.Request) -> dict[str, Any]:
    if request.method == "GET":
        return ls_server.unflatten_data(request.query)
    return await ls_server.get_post_data(request) or {}


def stripe_api(method: str, path: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Route `path` to fn(params, **url_parts), which returns a resource or a dict."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        async def handler(request: web.Request) -> web.Response:
            params = await read_params(request)
            expand = params.pop("expand", None)
            return json_response(export(fn(params, **request.match_info), expand))

        routes.route(method, path)(handler)
        return fn

    return register


def page(
    url: str, items: list[Any], params: dict[str, Any], filters: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A page of `items`, keeping those equal to each filter param that was sent."""
    for name in filters:
        if params.get(name):
            items = [item for item in items if getattr(item, name, None) == params[name]]
    return list_object(
        url,
        items,
        limit=params.get("limit"),
        starting_after=params.get("starting_after"),
        ending_before=params.get("ending_before"),
    )


# --- Connect -------------------------------------------------------------------


@stripe_api("POST", "/v1/accounts")
def create_account(params: dict[str, Any]) -> Account:
    return Account(params)


@stripe_api("GET", "/v1/accounts")
def list_accounts(params: dict[str, Any]) -> dict[str, Any]:
    return page("/v1/accounts", Account._all(), params)


@stripe_api("GET", "/v1/accounts/{id}")
def retrieve_account(params: dict[str, Any], id: str) -> Account:
    return Account._get(id, "account")


@stripe_api("POST", "/v1/accounts/{id}")
def update_account(params: dict[str, Any], id: str) -> Account:
    account = Account._get(id, "account")
    account._update(params)
    return account


@stripe_api("POST", "/v1/account_links")
def create_account_link(params: dict[str, Any]) -> AccountLink:
    return AccountLink(params)


# --- Checkout ------------------------------------------------------------------


@stripe_api("POST", "/v1/checkout/sessions")
def create_checkout_session(params: dict[str, Any]) -> CheckoutSession:
    return CheckoutSession._create(params)


@stripe_api("GET", "/v1/checkout/sessions")
def list_checkout_sessions(params: dict[str, Any]) -> dict[str, Any]:
    for session in CheckoutSession._all():
        CheckoutSession._get(session.id)  # lets due sessions expire
    return page(
        "/v1/checkout/sessions",
        CheckoutSession._all(),
        params,
        filters=("customer", "payment_intent", "status"),
    )


@stripe_api("GET", "/v1/checkout/sessions/{id}")
def retrieve_checkout_session(params: dict[str, Any], id: str) -> CheckoutSession:
    return CheckoutSession._get(id, "session")


@stripe_api("GET", "/v1/checkout/sessions/{id}/line_items")
def list_checkout_line_items(params: dict[str, Any], id: str) -> dict[str, Any]:
    return CheckoutSession._get(id, "session")._line_items_list()


@stripe_api("POST", "/v1/checkout/sessions/{id}/expire")
def expire_checkout_session(params: dict[str, Any], id: str) -> CheckoutSession:
    session = CheckoutSession._get(id, "session")
    if session.status != "open":
        raise StripeError(
            400, "Only Checkout Sessions with a status of `open` can be expired.", param="session"
        )
    session._expire()
    return session


# --- PaymentIntents and charges -----------------------------------------------


@stripe_api("POST", "/v1/payment_intents")
def create_payment_intent(params: dict[str, Any]) -> PaymentIntent:
    return PaymentIntent._create(params)


@stripe_api("GET", "/v1/payment_intents")
def list_payment_intents(params: dict[str, Any]) -> dict[str, Any]:
    return page("/v1/payment_intents", PaymentIntent._all(), params, filters=("customer",))


@stripe_api("GET", "/v1/payment_intents/search")
def search_payment_intents(params: dict[str, Any]) -> dict[str, Any]:
    return search_object(
        "/v1/payment_intents/search", PaymentIntent._all(), params.get("query"), params.get("limit")
    )


@stripe_api("GET", "/v1/payment_intents/{id}")
def retrieve_payment_intent(params: dict[str, Any], id: str) -> PaymentIntent:
    return PaymentIntent._get(id, "intent")


@stripe_api("POST", "/v1/payment_intents/{id}")
def update_payment_intent(params: dict[str, Any], id: str) -> PaymentIntent:
    intent = PaymentIntent._get(id, "intent")
    intent._update(params)
    return intent


@stripe_api("POST", "/v1/payment_intents/{id}/confirm")
def confirm_payment_intent(params: dict[str, Any], id: str) -> PaymentIntent:
    return PaymentIntent._get(id, "intent")._api_confirm(params)


@stripe_api("POST", "/v1/payment_intents/{id}/cancel")
def cancel_payment_intent(params: dict[str, Any], id: str) -> PaymentIntent:
    return PaymentIntent._get(id, "intent")._api_cancel(params)


@stripe_api("GET", "/v1/charges")
def list_charges(params: dict[str, Any]) -> dict[str, Any]:
    return page(
        "/v1/charges",
        Charge._all(),
        params,
        filters=("customer", "payment_intent", "transfer_group"),
    )


@stripe_api("GET", "/v1/charges/search")
def search_charges(params: dict[str, Any]) -> dict[str, Any]:
    return search_object(
        "/v1/charges/search", Charge._all(), params.get("query"), params.get("limit")
    )


@stripe_api("GET", "/v1/charges/{id}")
def retrieve_charge(params: dict[str, Any], id: str) -> Charge:
    return Charge._get(id, "charge")


@stripe_api("POST", "/v1/charges/{id}")
def update_charge(params: dict[str, Any], id: str) -> Charge:
    charge = Charge._get(id, "charge")
    if set(params) - {"metadata", "description"}:
        raise StripeError(400, "The stand-in updates only a charge's metadata and description.")
    if "metadata" in params:
        charge.metadata = merge_metadata(charge.metadata, params["metadata"])
    if "description" in params:
        charge.description = params["description"] or None
    return charge


@stripe_api("POST", "/v1/refunds")
def create_refund(params: dict[str, Any]) -> Refund:
    return Refund._create(params)


@stripe_api("GET", "/v1/refunds")
def list_refunds(params: dict[str, Any]) -> dict[str, Any]:
    return page("/v1/refunds", Refund._all(), params, filters=("charge", "payment_intent"))


@stripe_api("GET", "/v1/refunds/{id}")
def retrieve_refund(params: dict[str, Any], id: str) -> Refund:
    return Refund._get(id, "refund")


@stripe_api("GET", "/v1/application_fees")
def list_application_fees(params: dict[str, Any]) -> dict[str, Any]:
    return page("/v1/application_fees", ApplicationFee._all(), params, filters=("charge",))


@stripe_api("GET", "/v1/application_fees/{id}")
def retrieve_application_fee(params: dict[str, Any], id: str) -> ApplicationFee:
    return ApplicationFee._get(id, "id")


@stripe_api("GET", "/v1/disputes")
def list_disputes(params: dict[str, Any]) -> dict[str, Any]:
    return page("/v1/disputes", Dispute._all(), params, filters=("charge", "payment_intent"))


@stripe_api("GET", "/v1/disputes/{id}")
def retrieve_dispute(params: dict[str, Any], id: str) -> Dispute:
    return Dispute._get(id, "dispute")


@stripe_api("GET", "/v1/balance_transactions")
def list_balance_transactions(params: dict[str, Any]) -> dict[str, Any]:
    return page(
        "/v1/balance_transactions", BalanceTransaction._all(), params, filters=("source", "type")
    )


@stripe_api("GET", "/v1/balance_transactions/{id}")
def retrieve_balance_transaction(params: dict[str, Any], id: str) -> BalanceTransaction:
    return BalanceTransaction._get(id, "id")


# --- Transfers -------------------------------------------------------------------


@stripe_api("POST", "/v1/transfers")
def create_transfer(params: dict[str, Any]) -> Transfer:
    return Transfer._create(params)


@stripe_api("GET", "/v1/transfers")
def list_transfers(params: dict[str, Any]) -> dict[str, Any]:
    return page("/v1/transfers", Transfer._all(), params, filters=("destination", "transfer_group"))


@stripe_api("GET", "/v1/transfers/{id}")
def retrieve_transfer(params: dict[str, Any], id: str) -> Transfer:
    return Transfer._get(id, "transfer")


@stripe_api("POST", "/v1/transfers/{id}")
def update_transfer(params: dict[str, Any], id: str) -> Transfer:
    transfer = Transfer._get(id, "transfer")
    reject_unknown(params, ("metadata", "description"))
    if "metadata" in params:
        transfer.metadata = merge_metadata(transfer.metadata, params["metadata"])
    if "description" in params:
        transfer.description = params["description"] or None
    return transfer


@stripe_api("POST", "/v1/transfers/{id}/reversals")
def create_transfer_reversal(params: dict[str, Any], id: str) -> TransferReversal:
    return Transfer._get(id, "id")._api_reverse(params)


@stripe_api("GET", "/v1/transfers/{id}/reversals")
def list_transfer_reversals(params: dict[str, Any], id: str) -> dict[str, Any]:
    return Transfer._get(id, "id").reversals


@stripe_api("GET", "/v1/transfers/{transfer_id}/reversals/{id}")
def retrieve_transfer_reversal(
    params: dict[str, Any], transfer_id: str, id: str
) -> TransferReversal:
    reversal = TransferReversal._get(id, "id")
    if reversal.transfer != transfer_id:
        raise no_such("transfer_reversal", id)
    return reversal


# --- Events ----------------------------------------------------------------------


@stripe_api("GET", "/v1/events")
def list_events(params: dict[str, Any]) -> dict[str, Any]:
    events = Event._all()
    types = params.get("types") or ([params["type"]] if params.get("type") else None)
    if types:
        events = [event for event in events if _type_matches(event.type, types)]
    return page("/v1/events", events, params)


def _type_matches(event_type: str, patterns: list[str]) -> bool:
    """Stripe's filter: exact types, or a prefix ending in '*' (e.g. 'charge.*')."""
    return any(
        event_type == pattern or (pattern.endswith("*") and event_type.startswith(pattern[:-1]))
        for pattern in patterns
    )


@stripe_api("GET", "/v1/events/{id}")
def retrieve_event(params: dict[str, Any], id: str) -> Event:
    return Event._get(id, "id")


# --- Webhook endpoints ------------------------------------------------------------


@stripe_api("POST", "/v1/webhook_endpoints")
def create_webhook_endpoint(params: dict[str, Any]) -> WebhookEndpoint:
    return WebhookEndpoint(params)


@stripe_api("GET", "/v1/webhook_endpoints")
def list_webhook_endpoints(params: dict[str, Any]) -> dict[str, Any]:
    return page("/v1/webhook_endpoints", WebhookEndpoint._all(), params)


# --- Customers (with search), payment methods, setup intents: localstripe's --------


@stripe_api("GET", "/v1/customers/search")
def search_customers(params: dict[str, Any]) -> dict[str, Any]:
    customers = [value for key, value in reversed(ls.store.items()) if key.startswith("customer:")]
    return search_object(
        "/v1/customers/search", customers, params.get("query"), params.get("limit")
    )


def add_localstripe_routes(app: web.Application) -> None:
    """localstripe's handlers for the resources it already does well."""
    for cls in (ls.Customer, ls.PaymentMethod, ls.SetupIntent, ls.Product, ls.Token):
        collection = f"/v1/{cls.object}s"
        app.router.add_post(collection, ls_server.api_create(cls, collection))
        app.router.add_get(collection, ls_server.api_list_all(cls, collection))
        member = collection + "/{id}"
        app.router.add_get(member, ls_server.api_retrieve(cls, member))
        app.router.add_post(member, ls_server.api_update(cls, member))
        app.router.add_delete(member, ls_server.api_delete(cls, member))
    for method, url, func in (
        ("POST", "/v1/payment_methods/{id}/attach", ls.PaymentMethod._api_attach),
        ("POST", "/v1/payment_methods/{id}/detach", ls.PaymentMethod._api_detach),
        ("POST", "/v1/setup_intents/{id}/confirm", ls.SetupIntent._api_confirm),
        ("POST", "/v1/setup_intents/{id}/cancel", ls.SetupIntent._api_cancel),
        ("GET", "/v1/customers/{id}/payment_methods", _customer_payment_methods),
    ):
        app.router.add_route(method, url, ls_server.api_extra(func, url))


def _customer_payment_methods(id: str, type: str = "card", **params: Any) -> Any:
    return ls.PaymentMethod._api_list_all(
        f"/v1/customers/{id}/payment_methods", customer=id, type=type, **params
    )
