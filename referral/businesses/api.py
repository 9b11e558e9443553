"""API: trades, public business profiles, and my own business profile."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from sqlmodel import select

from referral.auth.current import api_key_required
from referral.auth.models import User
from referral.businesses import services
from referral.businesses.models import Business, Trade
from referral.businesses.schemas import (
    BusinessPublicSchema,
    BusinessUpdateSchema,
    OwnBusinessSchema,
    TradeListingSchema,
)
from referral.db import get_session
from referral.errors import NotFound
from referral.restapi import Blueprint, PageArgs, page_schema, paginate

blp = Blueprint(
    "api_businesses", __name__, url_prefix="", description="Trades and business profiles."
)


def _key_role() -> str:
    """An API key acts with the role of the person who created it, while that
    person is still an active member; otherwise with the least role."""
    creator = get_session().get(User, g.api_key.created_by_id)
    if creator is None or creator.disabled_at is not None:
        return "staff"
    return creator.role


@blp.route("/trades")
class Trades(MethodView):
    decorators = [api_key_required]

    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(TradeListingSchema))
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Every trade by name, and the trades it competes with (besides itself)."""
        session = get_session()
        page = paginate(
            session,
            select(Trade).order_by(Trade.name, Trade.id),
            page=args["page"],
            per_page=args["per_page"],
        )
        page["items"] = services.list_trades(session, page["items"])
        return page


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

    @blp.response(200, OwnBusinessSchema)
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    def get(self) -> dict[str, Any]:
        """My business's profile."""
        return services.own_profile(get_session(), g.business, g.trade)

    @blp.arguments(BusinessUpdateSchema, required=False)  # no body: nothing changes
    @blp.response(200, OwnBusinessSchema)
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    @blp.alt_response(
        403, description="The key's creator is not an owner or manager.", schema="Error"
    )
    def patch(self, data: dict[str, Any]) -> dict[str, Any]:
        """Change my business's profile; only the fields sent change."""
        session = get_session()
        services.update_business_profile(
            session=session, business=g.business, role=_key_role(), data=data
        )
        return services.own_profile(session, g.business)
