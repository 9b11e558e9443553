"""The aiohttp application: middlewares, /v1 API, hosted pages, /_config endpoints.

Middlewares, outermost first:
  request ids -> fault injection -> API-key check -> idempotency -> Stripe-shaped errors
so an injected 500 never reaches (or poisons) the idempotency store, and a
saved answer is replayed byte for byte.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from localstripe.errors import UserError

from . import api, contract, pages
from .base import StripeError, current_request, from_localstripe_error, site, store
from .events import ENDPOINTS, Endpoint, deliverer, new_request_id
from .faults import inject_faults, injector
from .idempotency import honour_idempotency_keys, keys

log = logging.getLogger("stripe_standin")


@web.middleware
async def tag_requests(request: web.Request, handler: Any) -> web.StreamResponse:
    request["request_id"] = new_request_id()
    current_request.set(
        {"id": request["request_id"], "idempotency_key": request.headers.get("Idempotency-Key")}
    )
    response = await handler(request)
    if request.path.startswith("/v1/"):
        response.headers.setdefault("Request-Id", request["request_id"])
        response.headers.setdefault("Stripe-Version", request.headers.get("Stripe-Version", ""))
    return response


@web.middleware
async def authenticate(request: web.Request, handler: Any) -> web.StreamResponse:
    if not request.path.startswith("/v1/"):
        return await handler(request)
    api_key = secret_key(request.headers.get("Authorization", ""))
    if api_key is None:
        error = StripeError(
            401,
            "Invalid API Key provided. Send 'Authorization: Bearer sk_test_...'.",
            code="api_key_invalid",
        )
        return web.json_response(error.to_json(), status=401)
    request["api_key"] = api_key
    return await handler(request)


def secret_key(authorization: str) -> str | None:
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.startswith("sk_") and len(value) > 5:
        return value
    return None


@web.middleware
async def stripe_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except UserError as error:
        converted = from_localstripe_error(error)
        if error.code == 404 and "id" in request.match_info:
            noun = request.path.split("/")[2].rstrip("s").replace("_", " ")
            converted.body["message"] = f"No such {noun}: '{request.match_info['id']}'"
        return error_response(converted)
    except StripeError as error:
        return error_response(error)
    except web.HTTPException as error:
        if error.status == 404 and request.path.startswith("/v1/"):
            return error_response(
                StripeError(
                    404,
                    f"Unrecognized request URL ({request.method}: {request.path}).",
                    saved=False,
                )
            )
        raise
    except Exception:
        log.exception("stand-in bug on %s %s", request.method, request.path)
        return error_response(
            StripeError(500, "The stand-in failed; see its log.", type="api_error", saved=False)
        )


@web.middleware
async def check_contract(request: web.Request, handler: Any) -> web.StreamResponse:
    """Refuse parameters stripe-python's typed params do not have for this method."""
    resource = request.match_info.route.resource
    if request.path.startswith("/v1/") and resource is not None:
        params = await api.read_params(request)
        contract.check_request(request.method, resource.canonical, params)
    return await handler(request)


def error_response(error: StripeError) -> web.Response:
    response = api.json_response(error.to_json(), status=error.status)
    response["saved"] = error.saved
    return response


# --- /_config: what tests use to set up and observe the stand-in ---------------------

config_routes = web.RouteTableDef()


@config_routes.post("/_config/webhook")
async def configure_webhook(request: web.Request) -> web.Response:
    """{"url": ..., "secret": "whsec_...", "endpoint": "platform" | "connect",
    "api_version": ..., "enabled_events": [...]} replaces that endpoint
    (default: the platform's, in the stand-in's version, for every event, as
    Stripe's "*"); {"url": null} stops sending to it."""
    body = await pages.json_body(request)
    url, secret = body.get("url"), body.get("secret")
    name = body.get("endpoint") or "platform"
    if name not in ENDPOINTS:
        raise StripeError(400, f"endpoint must be one of {ENDPOINTS}")
    if url and not (str(url).startswith("http") and secret):
        raise StripeError(400, "Send an http(s) url and a secret.")
    events = body.get("enabled_events") or ["*"]
    if not isinstance(events, list) or not all(isinstance(e, str) and e for e in events):
        raise StripeError(
            400, "enabled_events must be a list of event types.", param="enabled_events"
        )
    endpoint = deliverer.configure(
        url or None,
        secret or None,
        endpoint=name,
        api_version=body.get("api_version"),
        enabled_events=tuple(events),
    )
    return api.json_response(
        {
            "endpoint": name,
            "url": endpoint.url,
            "secret_set": bool(endpoint.secret),
            "api_version": endpoint.api_version,
            "enabled_events": list(endpoint.enabled_events),
        }
    )


@config_routes.delete("/_config/data")
async def reset_everything(request: web.Request) -> web.Response:
    """Forget all objects, events, deliveries, idempotency keys and faults."""
    store.clear()
    deliverer.reset()
    keys.clear()
    injector.clear()
    return api.json_response({"reset": True})


@config_routes.get("/_config/deliveries")
async def list_deliveries(request: web.Request) -> web.Response:
    return api.json_response(deliverer.report())


@config_routes.post("/_config/faults")
async def add_fault(request: web.Request) -> web.Response:
    fault = injector.add(await pages.json_body(request))
    return api.json_response({"added": fault.__dict__, "faults": injector.report()})


@config_routes.get("/_config/faults")
async def list_faults(request: web.Request) -> web.Response:
    return api.json_response(injector.report())


@config_routes.delete("/_config/faults")
async def clear_faults(request: web.Request) -> web.Response:
    injector.clear()
    return api.json_response({"faults": []})


@config_routes.post("/_config/idempotency/advance")
async def advance_idempotency_clock(request: web.Request) -> web.Response:
    """{"seconds": N}: the idempotency keys' clock moves on (24 h forgets every key)."""
    body = await pages.json_body(request)
    try:
        seconds = float(body.get("seconds", 0))
    except (TypeError, ValueError):
        raise StripeError(400, "seconds must be a number") from None
    keys.advance(seconds)
    return api.json_response({"offset_seconds": keys.offset})


@config_routes.get("/_config/health")
async def health(request: web.Request) -> web.Response:
    return api.json_response({"ok": True, "base_url": site.base_url})


def build_app(
    *,
    base_url: str,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    connect_webhook_url: str | None = None,
    connect_webhook_secret: str | None = None,
) -> web.Application:
    site.base_url = base_url.rstrip("/")
    deliverer.defaults = {
        "platform": Endpoint(webhook_url, webhook_secret),
        "connect": Endpoint(connect_webhook_url, connect_webhook_secret),
    }
    deliverer.reset()
    app = web.Application(
        middlewares=[
            tag_requests,
            inject_faults,
            authenticate,
            honour_idempotency_keys,
            stripe_errors,
            check_contract,
        ]
    )
    app.add_routes(config_routes)
    app.add_routes(pages.routes)
    app.add_routes(api.routes)
    api.add_localstripe_routes(app)
    _require_contracts(app)
    return app


def _require_contracts(app: web.Application) -> None:
    """Every /v1 route is mapped to stripe-python's params for it, or known untyped."""
    unmapped = sorted(
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/v1/")
        and route.method != "HEAD"
        and (route.method, route.resource.canonical) not in contract.ROUTE_PARAMS
        and (route.method, route.resource.canonical) not in contract.UNTYPED_ROUTES
    )
    if unmapped:
        raise RuntimeError(f"stand-in routes without a contract: {unmapped}")
