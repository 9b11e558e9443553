"""Pages: webhook endpoints of my business (owners and managers): list, add,
edit, rotate the secret, disable and enable, delete, the delivery log with
resend, and a test event."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from referral.auth.current import roles_required
from referral.db import get_session
from referral.errors import ValidationFailed
from referral.events.models import EVENT_TYPES
from referral.forms import run_action
from referral.integrations import services
from referral.integrations.services import EndpointInput

bp = Blueprint("webhooks", __name__)
MANAGERS = ("owner", "manager")


def _input() -> EndpointInput:
    return EndpointInput(
        url=request.form.get("url", ""),
        event_types=request.form.getlist("event_types"),
        description=request.form.get("description", "")[:200],
    )


def _form_page(template: str, status: int, **context: Any) -> tuple[str, int]:
    context.setdefault("errors", {})
    return render_template(template, event_types=EVENT_TYPES, **context), status


@bp.get("/settings/webhooks")
@roles_required(*MANAGERS)
def index() -> tuple[str, int]:
    """My business's webhook endpoints, and a form to add one."""
    session = get_session()
    endpoints = services.list_endpoints(session=session, business_id=g.business.id)
    return _form_page(
        "webhooks/index.html",
        200,
        endpoints=endpoints,
        form={"event_types": ["referral.received"]},
    )


@bp.post("/settings/webhooks")
@roles_required(*MANAGERS)
def create() -> Response | tuple[str, int]:
    """Add an endpoint; its page shows the signing secret."""
    data = _input()
    try:
        endpoint = services.create_endpoint(
            session=get_session(), business_id=g.business.id, data=data
        )
    except ValidationFailed as exc:
        endpoints = services.list_endpoints(session=get_session(), business_id=g.business.id)
        return _form_page(
            "webhooks/index.html", 422, endpoints=endpoints, form=vars(data), errors=exc.errors
        )
    flash("Endpoint added. Verify each event with its signing secret.", "success")
    return redirect(url_for("webhooks.show", endpoint_id=endpoint.id))


@bp.get("/settings/webhooks/<int:endpoint_id>")
@roles_required(*MANAGERS)
def show(endpoint_id: int) -> tuple[str, int]:
    """One endpoint: its secret, settings and delivery log."""
    session = get_session()
    endpoint = services.get_endpoint(
        session=session, business_id=g.business.id, endpoint_id=endpoint_id
    )
    page = max(1, min(request.args.get("page", 1, type=int), 100_000))
    rows, total = services.delivery_log(
        session=session, business_id=g.business.id, endpoint_id=endpoint_id, page=page
    )
    return _form_page(
        "webhooks/show.html",
        200,
        endpoint=endpoint,
        form={**vars(_as_input(endpoint))},
        rows=rows,
        total=total,
        page=page,
        pending=services.pending_count(session=session, endpoint_id=endpoint_id),
        message_id=services.message_id,
    )


def _as_input(endpoint: Any) -> EndpointInput:
    return EndpointInput(
        url=endpoint.url, event_types=endpoint.event_types, description=endpoint.description
    )


@bp.post("/settings/webhooks/<int:endpoint_id>")
@roles_required(*MANAGERS)
def edit(endpoint_id: int) -> Response | tuple[str, int]:
    """Change the URL, the event types or the description."""
    session = get_session()
    data = _input()
    try:
        services.update_endpoint(
            session=session, business_id=g.business.id, endpoint_id=endpoint_id, data=data
        )
    except ValidationFailed as exc:
        session.rollback()  # nothing half-changed
        endpoint = services.get_endpoint(
            session=session, business_id=g.business.id, endpoint_id=endpoint_id
        )
        rows, total = services.delivery_log(
            session=session, business_id=g.business.id, endpoint_id=endpoint_id
        )
        return _form_page(
            "webhooks/show.html",
            422,
            endpoint=endpoint,
            form=vars(data),
            errors=exc.errors,
            rows=rows,
            total=total,
            page=1,
            pending=services.pending_count(session=session, endpoint_id=endpoint_id),
            message_id=services.message_id,
        )
    flash("Endpoint saved.", "success")
    return redirect(url_for("webhooks.show", endpoint_id=endpoint_id))


def _act(endpoint_id: int, action: Any, done: str) -> Response:
    run_action(
        lambda: action(session=get_session(), business_id=g.business.id, endpoint_id=endpoint_id),
        done=done,
    )
    return redirect(url_for("webhooks.show", endpoint_id=endpoint_id))


@bp.post("/settings/webhooks/<int:endpoint_id>/rotate")
@roles_required(*MANAGERS)
def rotate(endpoint_id: int) -> Response:
    """A new signing secret; the old one keeps signing for 24 hours."""
    return _act(
        endpoint_id,
        services.rotate_secret,
        "New secret made. The old one stays valid for 24 hours: switch your receiver now.",
    )


@bp.post("/settings/webhooks/<int:endpoint_id>/disable")
@roles_required(*MANAGERS)
def disable(endpoint_id: int) -> Response:
    """Stop sending for now."""
    return _act(endpoint_id, services.disable_endpoint, "Endpoint disabled.")


@bp.post("/settings/webhooks/<int:endpoint_id>/enable")
@roles_required(*MANAGERS)
def enable(endpoint_id: int) -> Response:
    """Send again, starting with what waited."""
    return _act(endpoint_id, services.enable_endpoint, "Endpoint enabled.")


@bp.post("/settings/webhooks/<int:endpoint_id>/test")
@roles_required(*MANAGERS)
def test(endpoint_id: int) -> Response:
    """Send a test event."""
    return _act(endpoint_id, services.send_test_event, "Test event on its way.")


@bp.post("/settings/webhooks/<int:endpoint_id>/delete")
@roles_required(*MANAGERS)
def delete(endpoint_id: int) -> Response:
    """Delete the endpoint."""
    services.delete_endpoint(
        session=get_session(), business_id=g.business.id, endpoint_id=endpoint_id
    )
    flash("Endpoint deleted.", "success")
    return redirect(url_for("webhooks.index"))


@bp.post("/settings/webhooks/<int:endpoint_id>/events/<int:webhook_event_id>/resend")
@roles_required(*MANAGERS)
def resend(endpoint_id: int, webhook_event_id: int) -> Response:
    """Send an event again."""
    run_action(
        lambda: services.resend_event(
            session=get_session(),
            business_id=g.business.id,
            endpoint_id=endpoint_id,
            event_id=webhook_event_id,
        ),
        done="Event queued again.",
    )
    return redirect(url_for("webhooks.show", endpoint_id=endpoint_id))
