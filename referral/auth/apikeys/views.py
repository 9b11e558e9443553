"""Pages: create, list and revoke API keys (owners and managers)."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from referral.auth.apikeys import services
from referral.auth.apikeys.schemas import NewApiKeySchema
from referral.auth.current import roles_required
from referral.db import get_session
from referral.errors import PermissionDenied
from referral.forms import parse_form

bp = Blueprint("apikeys", __name__)


def _page(status: int = 200, **context: object) -> tuple[str, int]:
    keys = services.list_api_keys(session=get_session(), business_id=g.business.id)
    context.setdefault("errors", {})
    context.setdefault("form", {})
    return render_template("apikeys/index.html", keys=keys, **context), status


@bp.get("/settings/api-keys")
@roles_required("owner", "manager")
def index() -> tuple[str, int]:
    """My business's API keys."""
    return _page()


@bp.post("/settings/api-keys")
@roles_required("owner", "manager")
def create() -> tuple[str, int]:
    """Create a key and show it, this once."""
    data, errors = parse_form(NewApiKeySchema(), request.form)
    if errors:
        return _page(422, errors=errors, form=request.form)
    try:
        issued = services.create_api_key(session=get_session(), actor=g.user, name=data["name"])
    except PermissionDenied as error:  # not verified yet: the page says why
        return _page(403, errors={"_form": [error.message]}, form=request.form)
    return _page(201, issued=issued)


@bp.post("/settings/api-keys/<int:key_id>/revoke")
@roles_required("owner", "manager")
def revoke(key_id: int) -> Response:
    """Revoke one of my business's keys; another business's key is a 404."""
    api_key = services.revoke_api_key(
        session=get_session(), business_id=g.business.id, key_id=key_id
    )
    flash(f"The key “{api_key.name}” is revoked.", "success")
    return redirect(url_for("apikeys.index"))
