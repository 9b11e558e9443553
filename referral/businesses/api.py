"""API: trades, public business profiles, and my own business profile."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import g
from flask.views import MethodView
from sqlmodel import select

from referral.api import Blueprint
from referral.auth.current import api_key_required
from referral.auth.models import User
from referral.businesses import services
from referral.businesses.models import Business, Trade
from referral.businesses.schemas import BusinessProfileSchema, BusinessPublicSchema
from referral.db import get_session
from referral.errors import NotFound, PermissionDenied

blp = Blueprint(
    "api_businesses", __name__, url_prefix="", description="Trades and business profiles."
)


class TradeSchema(ma.Schema):
    slug = ma.fields.String()
    name = ma.fields.String()
    competes_with = ma.fields.List(ma.fields.String())


class TradeListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(TradeSchema))


class BusinessUpdateSchema(BusinessProfileSchema):
    """Every field optional: PATCH changes only what it sends."""

    class Meta:
        unknown = ma.RAISE

    def _drop_blank(self, data: Any, **_: Any) -> Any:
        """JSON says what it means: a blank value is an error here, not "unchanged"
        (this replaces the form schema's blank-dropping hook)."""
        return data

    def on_bind_field(self, field_name: str, field_obj: ma.fields.Field) -> None:
        field_obj.required = False
        field_obj.load_default = ma.missing


@blp.route("/trades")
class Trades(MethodView):
    decorators = [api_key_required]

    @blp.response(200, TradeListSchema)
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    def get(self) -> dict[str, Any]:
        """Every trade, and the trades it competes with (besides itself)."""
        session = get_session()
        trades = list(session.exec(select(Trade).order_by(Trade.name)))
        slugs = {t.id: t.slug for t in trades}
        table = services.competition_table(session)
        return {
            "items": [
                {
                    "slug": t.slug,
                    "name": t.name,
                    "competes_with": sorted(slugs[c] for c in table.get(t.id, ())),
                }
                for t in trades
            ]
        }


@blp.route("/businesses/<int:business_id>")
class PublicBusiness(MethodView):
    decorators = [api_key_required]

    @blp.response(200, BusinessPublicSchema)
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    @blp.alt_response(404, description="No such business.", schema="Error")
    def get(self, business_id: int) -> dict[str, Any]:
        """A business's public profile."""
        business = get_session().get(Business, business_id)
        if business is None:
            raise NotFound("No such business.")
        return services.public_profile(get_session(), business)


@blp.route("/business")
class MyBusiness(MethodView):
    decorators = [api_key_required]

    @blp.response(200, BusinessPublicSchema)
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    def get(self) -> dict[str, Any]:
        """My business's profile."""
        return services.public_profile(get_session(), g.business)

    @blp.arguments(BusinessUpdateSchema)
    @blp.response(200, BusinessPublicSchema)
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    @blp.alt_response(403, description="The key's owner may not edit.", schema="Error")
    def patch(self, data: dict[str, Any]) -> dict[str, Any]:
        """Change my business's profile; only the fields sent change."""
        creator = get_session().get(User, g.api_key.created_by_id)
        if creator is None or creator.disabled_at or creator.role not in ("owner", "manager"):
            raise PermissionDenied("Only owners and managers can change the profile.")
        services.update_business_profile(session=get_session(), business=g.business, data=data)
        return services.public_profile(get_session(), g.business)
