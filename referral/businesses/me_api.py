"""API: who am I (the business an API key belongs to, and the key)."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView

from referral.auth.current import api_key_required
from referral.businesses.schemas import MeSchema
from referral.businesses.services import public_profile
from referral.db import get_session
from referral.restapi import Blueprint

blp = Blueprint(
    "api_me", __name__, url_prefix="", description="The business an API key belongs to."
)


@blp.route("/me")
class Me(MethodView):
    decorators = [api_key_required]

    @blp.response(200, MeSchema)
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    def get(self) -> dict[str, Any]:
        """The business this API key belongs to, and the key itself."""
        return {
            "business": public_profile(get_session(), g.business, g.trade),
            "api_key": g.api_key,
        }
