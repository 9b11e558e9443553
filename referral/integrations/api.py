"""API: webhook endpoints of the key's business (/api/v1/webhook-endpoints)."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView

from referral.auth.current import api_key_required
from referral.db import get_session
from referral.events.models import WebhookEndpoint
from referral.integrations import services
from referral.integrations.schemas import (
    AttemptSchema,
    DeliverySchema,
    EndpointInSchema,
    EndpointSchema,
    EndpointWithSecretSchema,
    EventSchema,
)
from referral.integrations.services import EndpointInput
from referral.restapi import Blueprint, PageArgs, field_names, page_schema

blp = Blueprint(
    "api_webhooks",
    __name__,
    url_prefix="/webhook-endpoints",
    description="Endpoints that receive signed events (Standard Webhooks).",
)

ERRORS = [(401, "No valid API key."), (404, "Not one of your webhook endpoints.")]


def _documented(view: Any) -> Any:
    for code, description in ERRORS:
        view = blp.alt_response(code, description=description, schema="Error")(view)
    return view


def _endpoint(endpoint_id: int) -> WebhookEndpoint:
    return services.get_endpoint(
        session=get_session(), business_id=g.business.id, endpoint_id=endpoint_id
    )


@blp.route("")
class Endpoints(MethodView):
    decorators = [api_key_required]

    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(EndpointSchema))
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Your webhook endpoints."""
        endpoints = services.list_endpoints(session=get_session(), business_id=g.business.id)
        start = (args["page"] - 1) * args["per_page"]
        return {
            "items": endpoints[start : start + args["per_page"]],
            "page": args["page"],
            "per_page": args["per_page"],
            "total": len(endpoints),
        }

    @blp.arguments(EndpointInSchema)
    @blp.response(201, EndpointWithSecretSchema)
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    @blp.alt_response(409, description="Too many endpoints.", schema="Error")
    def post(self, data: dict[str, Any]) -> WebhookEndpoint:
        """Add an endpoint (https, a public address); the answer shows its signing secret."""
        return services.create_endpoint(
            session=get_session(), business_id=g.business.id, data=EndpointInput(**data)
        )


@blp.route("/<int:endpoint_id>")
class EndpointItem(MethodView):
    decorators = [api_key_required]

    @blp.response(200, EndpointWithSecretSchema)
    @_documented
    def get(self, endpoint_id: int) -> WebhookEndpoint:
        """One endpoint, with its signing secret."""
        return _endpoint(endpoint_id)

    @blp.arguments(EndpointInSchema)
    @blp.response(200, EndpointSchema)
    @_documented
    def put(self, data: dict[str, Any], endpoint_id: int) -> WebhookEndpoint:
        """Change the URL, the event types or the description."""
        return services.update_endpoint(
            session=get_session(),
            business_id=g.business.id,
            endpoint_id=endpoint_id,
            data=EndpointInput(**data),
        )

    @blp.response(204)
    @_documented
    def delete(self, endpoint_id: int) -> None:
        """Delete: nothing more is sent; deliveries on their way are dropped."""
        services.delete_endpoint(
            session=get_session(), business_id=g.business.id, endpoint_id=endpoint_id
        )


def _action(name: str, summary: str, action: Any, schema: Any) -> None:
    def post(self: MethodView, endpoint_id: int) -> Any:
        return action(session=get_session(), business_id=g.business.id, endpoint_id=endpoint_id)

    post.__doc__ = summary
    view = _documented(blp.response(200 if name != "test" else 202, schema)(post))
    cls = type(
        f"Endpoint{name.title()}", (MethodView,), {"decorators": [api_key_required], "post": view}
    )
    blp.route(f"/<int:endpoint_id>/{name}", endpoint=f"endpoint_{name}")(cls)


for _name, _summary, _action_func, _schema in (
    (
        "rotate-secret",
        "A new signing secret; the old one keeps signing too for 24 hours.",
        services.rotate_secret,
        EndpointWithSecretSchema,
    ),
    (
        "disable",
        "Stop sending; events wait until enabled.",
        services.disable_endpoint,
        EndpointSchema,
    ),
    ("enable", "Send again, starting with what waited.", services.enable_endpoint, EndpointSchema),
    (
        "test",
        "Send a `webhook.test` event to this endpoint.",
        services.send_test_event,
        EventSchema,
    ),
):
    _action(_name, _summary, _action_func, _schema)


@blp.route("/<int:endpoint_id>/attempts")
class Attempts(MethodView):
    decorators = [api_key_required]

    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(AttemptSchema))
    @_documented
    def get(self, args: dict[str, Any], endpoint_id: int) -> dict[str, Any]:
        """The delivery log: every attempt, newest first (kept 30 days)."""
        rows, total = services.delivery_log(
            session=get_session(),
            business_id=g.business.id,
            endpoint_id=endpoint_id,
            page=args["page"],
            per_page=args["per_page"],
        )
        items = [
            {
                **{
                    k: getattr(row.attempt, k)
                    for k in field_names(AttemptSchema)
                    if hasattr(row.attempt, k)
                },
                "webhook_id": services.message_id(row.event),
                "event_id": row.event.id,
                "event_type": row.event.type,
            }
            for row in rows
        ]
        return {"items": items, "page": args["page"], "per_page": args["per_page"], "total": total}


@blp.route("/<int:endpoint_id>/events/<int:webhook_event_id>/resend")
class Resend(MethodView):
    decorators = [api_key_required]

    @blp.response(202, DeliverySchema)
    @_documented
    def post(self, endpoint_id: int, webhook_event_id: int) -> Any:
        """Send one of your events to this endpoint again, with the same webhook-id."""
        return services.resend_event(
            session=get_session(),
            business_id=g.business.id,
            endpoint_id=endpoint_id,
            event_id=webhook_event_id,
        )
