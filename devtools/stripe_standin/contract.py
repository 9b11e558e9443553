"""Stripe's request contract, as stripe-python publishes it.

Every /v1 request's parameters are checked against the typed request
parameters (`stripe.params...`) that stripe-python ships for the API version it
pins: a parameter the method does not have (unknown, removed in this version,
misspelt, at any depth) is refused like Stripe refuses it (400
invalid_request_error, code parameter_unknown, `param` naming its path), and so
is a value outside a closed `Literal` set or of the wrong kind.

The stand-in's routes are mapped to their parameter classes explicitly
(ROUTE_PARAMS); a /v1 route without an entry is a stand-in bug, which a test
catches. stripe-python is MIT-licensed; the stand-in only reads its types.
"""

from __future__ import annotations

import builtins
import decimal
import functools
import sys
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

import stripe
from stripe import params as p
from stripe.params import checkout as checkout_params
from typing_extensions import is_typeddict

from .base import StripeError

# Keys of stripe-python's RequestOptions are client options, never sent as params.
_CLIENT_OPTIONS = frozenset(stripe.RequestOptions.__annotations__)

# (HTTP method, route as the stand-in registers it) -> the params stripe-python types for it.
ROUTE_PARAMS: dict[tuple[str, str], type] = {
    # Connect
    ("POST", "/v1/accounts"): p.AccountCreateParams,
    ("GET", "/v1/accounts"): p.AccountListParams,
    ("GET", "/v1/accounts/{id}"): p.AccountRetrieveParams,
    ("POST", "/v1/accounts/{id}"): p.AccountUpdateParams,
    ("POST", "/v1/account_links"): p.AccountLinkCreateParams,
    # Checkout
    ("POST", "/v1/checkout/sessions"): checkout_params.SessionCreateParams,
    ("GET", "/v1/checkout/sessions"): checkout_params.SessionListParams,
    ("GET", "/v1/checkout/sessions/{id}"): checkout_params.SessionRetrieveParams,
    ("GET", "/v1/checkout/sessions/{id}/line_items"): checkout_params.SessionLineItemListParams,
    ("POST", "/v1/checkout/sessions/{id}/expire"): checkout_params.SessionExpireParams,
    # PaymentIntents, charges, refunds, fees, disputes, balance
    ("POST", "/v1/payment_intents"): p.PaymentIntentCreateParams,
    ("GET", "/v1/payment_intents"): p.PaymentIntentListParams,
    ("GET", "/v1/payment_intents/search"): p.PaymentIntentSearchParams,
    ("GET", "/v1/payment_intents/{id}"): p.PaymentIntentRetrieveParams,
    ("POST", "/v1/payment_intents/{id}"): p.PaymentIntentUpdateParams,
    ("POST", "/v1/payment_intents/{id}/confirm"): p.PaymentIntentConfirmParams,
    ("POST", "/v1/payment_intents/{id}/cancel"): p.PaymentIntentCancelParams,
    ("GET", "/v1/charges"): p.ChargeListParams,
    ("GET", "/v1/charges/search"): p.ChargeSearchParams,
    ("GET", "/v1/charges/{id}"): p.ChargeRetrieveParams,
    ("POST", "/v1/charges/{id}"): p.ChargeUpdateParams,
    ("POST", "/v1/refunds"): p.RefundCreateParams,
    ("GET", "/v1/refunds"): p.RefundListParams,
    ("GET", "/v1/refunds/{id}"): p.RefundRetrieveParams,
    ("GET", "/v1/application_fees"): p.ApplicationFeeListParams,
    ("GET", "/v1/application_fees/{id}"): p.ApplicationFeeRetrieveParams,
    ("GET", "/v1/disputes"): p.DisputeListParams,
    ("GET", "/v1/disputes/{id}"): p.DisputeRetrieveParams,
    ("GET", "/v1/balance_transactions"): p.BalanceTransactionListParams,
    ("GET", "/v1/balance_transactions/{id}"): p.BalanceTransactionRetrieveParams,
    # Transfers
    ("POST", "/v1/transfers"): p.TransferCreateParams,
    ("GET", "/v1/transfers"): p.TransferListParams,
    ("GET", "/v1/transfers/{id}"): p.TransferRetrieveParams,
    ("POST", "/v1/transfers/{id}"): p.TransferUpdateParams,
    ("POST", "/v1/transfers/{id}/reversals"): p.TransferReversalCreateParams,
    ("GET", "/v1/transfers/{id}/reversals"): p.TransferReversalListParams,
    ("GET", "/v1/transfers/{transfer_id}/reversals/{id}"): p.TransferReversalRetrieveParams,
    # Events
    ("GET", "/v1/events"): p.EventListParams,
    ("GET", "/v1/events/{id}"): p.EventRetrieveParams,
    # Webhook endpoints
    ("POST", "/v1/webhook_endpoints"): p.WebhookEndpointCreateParams,
    ("GET", "/v1/webhook_endpoints"): p.WebhookEndpointListParams,
    # Customers, payment methods, setup intents, products, tokens (localstripe's handlers)
    ("POST", "/v1/customers"): p.CustomerCreateParams,
    ("GET", "/v1/customers"): p.CustomerListParams,
    ("GET", "/v1/customers/search"): p.CustomerSearchParams,
    ("GET", "/v1/customers/{id}"): p.CustomerRetrieveParams,
    ("POST", "/v1/customers/{id}"): p.CustomerUpdateParams,
    ("DELETE", "/v1/customers/{id}"): p.CustomerDeleteParams,
    ("GET", "/v1/customers/{id}/payment_methods"): p.CustomerPaymentMethodListParams,
    ("POST", "/v1/payment_methods"): p.PaymentMethodCreateParams,
    ("GET", "/v1/payment_methods"): p.PaymentMethodListParams,
    ("GET", "/v1/payment_methods/{id}"): p.PaymentMethodRetrieveParams,
    ("POST", "/v1/payment_methods/{id}"): p.PaymentMethodUpdateParams,
    ("POST", "/v1/payment_methods/{id}/attach"): p.PaymentMethodAttachParams,
    ("POST", "/v1/payment_methods/{id}/detach"): p.PaymentMethodDetachParams,
    ("POST", "/v1/setup_intents"): p.SetupIntentCreateParams,
    ("GET", "/v1/setup_intents"): p.SetupIntentListParams,
    ("GET", "/v1/setup_intents/{id}"): p.SetupIntentRetrieveParams,
    ("POST", "/v1/setup_intents/{id}"): p.SetupIntentUpdateParams,
    ("POST", "/v1/setup_intents/{id}/confirm"): p.SetupIntentConfirmParams,
    ("POST", "/v1/setup_intents/{id}/cancel"): p.SetupIntentCancelParams,
    ("POST", "/v1/products"): p.ProductCreateParams,
    ("GET", "/v1/products"): p.ProductListParams,
    ("GET", "/v1/products/{id}"): p.ProductRetrieveParams,
    ("POST", "/v1/products/{id}"): p.ProductUpdateParams,
    ("DELETE", "/v1/products/{id}"): p.ProductDeleteParams,
    ("POST", "/v1/tokens"): p.TokenCreateParams,
    ("GET", "/v1/tokens/{id}"): p.TokenRetrieveParams,
}

# Routes stripe-python has no method for (localstripe's generic handlers).
UNTYPED_ROUTES = frozenset(
    {
        ("GET", "/v1/tokens"),
        ("POST", "/v1/tokens/{id}"),
        ("DELETE", "/v1/tokens/{id}"),
        ("DELETE", "/v1/payment_methods/{id}"),
        ("DELETE", "/v1/setup_intents/{id}"),
    }
)


def unknown_param(path: str) -> StripeError:
    return StripeError(
        400,
        f"Received unknown parameter: {path}",
        code="parameter_unknown",
        param=path,
        saved=False,
    )


def bad_value(path: str, message: str) -> StripeError:
    return StripeError(400, message, code="parameter_invalid", param=path, saved=False)


def check_request(method: str, route: str, params: dict[str, Any]) -> None:
    """Raise StripeError(400) if `params` break the contract of this route.
    A route with no typed params in stripe-python is not checked."""
    params_type = ROUTE_PARAMS.get((method, route))
    if params_type is not None:
        check_params(params_type, params)


def check_params(params_type: type, params: dict[str, Any]) -> None:
    """Check form-decoded `params` against a stripe-python params TypedDict."""
    _check_typeddict(params, params_type, "", top=True)


class _Unchecked:
    """A type stripe-python names only for type checkers: any value fits."""

    def __class_getitem__(cls, _item: Any) -> type[_Unchecked]:
        return cls


@functools.cache
def _fields(typed_dict: type) -> dict[str, Any]:
    """The TypedDict's fields and their types; names stripe-python imports only
    for type checkers (StripeContext...) read as Any."""
    names = vars(sys.modules[typed_dict.__module__])

    class Names(dict[str, Any]):
        def __missing__(self, key: str) -> Any:
            return names.get(key, getattr(builtins, key, _Unchecked))

    return typing.get_type_hints(typed_dict, localns=Names())


def _check_typeddict(value: Any, typed_dict: type, path: str, *, top: bool = False) -> None:
    if not isinstance(value, dict):
        raise bad_value(path, f"Invalid object: {path} must be a hash.")
    fields = _fields(typed_dict)
    for key, item in value.items():
        child = key if top else f"{path}[{key}]"
        if key not in fields or (top and key in _CLIENT_OPTIONS):
            raise unknown_param(child)
        _check(item, fields[key], child)


def _check(value: Any, expected: Any, path: str) -> None:
    origin = get_origin(expected)
    if expected is Any or expected is object:
        return
    if origin in (Union, types.UnionType):
        _check_union(value, get_args(expected), path)
    elif origin is Literal:
        allowed = get_args(expected)
        if _plain(value) not in [_plain(choice) for choice in allowed]:
            listed = ", ".join(repr(choice) for choice in allowed)
            raise bad_value(path, f"Invalid {path}: must be one of {listed}")
    elif is_typeddict(expected):
        _check_typeddict(value, expected, path)
    elif origin in (list, typing.List):  # noqa: UP006
        if not isinstance(value, list):
            raise bad_value(path, f"Invalid array: {path} must be a list.")
        (item_type,) = get_args(expected) or (Any,)
        for index, item in enumerate(value):
            _check(item, item_type, f"{path}[{index}]")
    elif origin in (dict, typing.Dict):  # noqa: UP006
        if not isinstance(value, dict):
            raise bad_value(path, f"Invalid hash: {path} must be a hash.")
    elif expected in (int, float, decimal.Decimal, bool, str):
        _check_scalar(value, expected, path)
    # Anything else (a StripeContext, UntypedStripeObject...) is accepted as sent.


def _check_union(value: Any, choices: tuple[Any, ...], path: str) -> None:
    """A value fits a Union if it fits one member; the error reported is the one
    from the member of the same shape (a hash against a TypedDict...)."""
    errors = []
    for choice in choices:
        if choice is type(None):
            if value is None:
                return
            continue
        try:
            _check(value, choice, path)
            return
        except StripeError as error:
            errors.append((_same_shape(value, choice), error))
    if not errors:
        raise bad_value(path, f"Invalid {path}.")
    errors.sort(key=lambda found: not found[0])
    raise errors[0][1]


def _same_shape(value: Any, expected: Any) -> bool:
    origin = get_origin(expected)
    if isinstance(value, dict):
        return is_typeddict(expected) or origin in (dict, typing.Dict)  # noqa: UP006
    if isinstance(value, list):
        return origin in (list, typing.List)  # noqa: UP006
    return not (is_typeddict(expected) or origin in (list, dict, typing.List, typing.Dict))  # noqa: UP006


def _plain(value: Any) -> Any:
    """Form encoding sends every scalar as a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, int | float) else value


def _check_scalar(value: Any, expected: type, path: str) -> None:
    if isinstance(value, dict | list):
        raise bad_value(path, f"Invalid {path}: must be a {expected.__name__}, not a hash or list.")
    text = _plain(value)
    if expected is bool:
        if text not in ("true", "false"):
            raise bad_value(path, f"Invalid boolean: {text}")
    elif expected is int:
        try:
            int(text)
        except (TypeError, ValueError):
            raise bad_value(path, f"Invalid integer: {text}") from None
    elif expected in (float, decimal.Decimal):
        try:
            decimal.Decimal(text)
        except (TypeError, decimal.InvalidOperation):
            raise bad_value(path, f"Invalid decimal: {text}") from None


__all__ = ["ROUTE_PARAMS", "UNTYPED_ROUTES", "check_params", "check_request"]
