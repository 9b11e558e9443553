"""API: the key's business's offers (/api/v1/offers), the offers its partners
publish to its customers, and its opportunities pipeline (/api/v1/opportunities)."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView

from referral.auth.current import api_key_required
from referral.businesses.actor import current_actor
from referral.db import get_session
from referral.offers import services
from referral.offers.models import Offer, Opportunity
from referral.offers.schemas import (
    OfferInSchema,
    OfferSchema,
    OpportunityArgs,
    OpportunityLostSchema,
    OpportunitySchema,
    OpportunityWonSchema,
    PartnerOfferSchema,
)
from referral.offers.services import OfferInput
from referral.restapi import Blueprint, PageArgs, field_names, page_schema

blp = Blueprint(
    "api_offers",
    __name__,
    url_prefix="",
    description="Offers (your own back end, and to your partners' customers) and opportunities.",
)

ERRORS = [(401, "No valid API key."), (404, "Not one of yours.")]


def _documented(view: Any) -> Any:
    for code, description in ERRORS:
        view = blp.alt_response(code, description=description, schema="Error")(view)
    return view


def _page(items: list[Any], args: dict[str, Any]) -> dict[str, Any]:
    start = (args["page"] - 1) * args["per_page"]
    return {
        "items": items[start : start + args["per_page"]],
        "page": args["page"],
        "per_page": args["per_page"],
        "total": len(items),
    }


@blp.route("/offers")
class Offers(MethodView):
    decorators = [api_key_required]

    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(OfferSchema))
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Your offers, newest first."""
        return _page(services.list_offers(session=get_session(), business_id=g.business.id), args)

    @blp.arguments(OfferInSchema)
    @blp.response(201, OfferSchema)
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    @blp.alt_response(403, description="Only owners and managers manage offers.", schema="Error")
    def post(self, data: dict[str, Any]) -> Offer:
        """Publish an offer."""
        return services.create_offer(
            session=get_session(), actor=current_actor(), data=OfferInput(**data)
        )


@blp.route("/offers/from-partners")
class PartnerOffers(MethodView):
    decorators = [api_key_required]

    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(PartnerOfferSchema))
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The offers your active partners publish to your customers, valid today."""
        rows = services.partner_offers(session=get_session(), business_id=g.business.id)
        items = [
            {
                **{k: getattr(offer, k) for k in field_names(OfferSchema)},
                "partner_name": partner.name,
            }
            for offer, partner in rows
        ]
        return _page(items, args)


@blp.route("/offers/<int:offer_id>")
class OfferItem(MethodView):
    decorators = [api_key_required]

    @blp.response(200, OfferSchema)
    @_documented
    def get(self, offer_id: int) -> Offer:
        """One of your offers."""
        return services.get_offer(
            session=get_session(), business_id=g.business.id, offer_id=offer_id
        )

    @blp.arguments(OfferInSchema)
    @blp.response(200, OfferSchema)
    @_documented
    @blp.alt_response(409, description="The offer has ended.", schema="Error")
    def put(self, data: dict[str, Any], offer_id: int) -> Offer:
        """Change an offer (its kind stays as published)."""
        session = get_session()
        offer = services.get_offer(session=session, business_id=g.business.id, offer_id=offer_id)
        return services.update_offer(
            session=session,
            actor=current_actor(),
            offer_id=offer_id,
            data=OfferInput(**{**data, "kind": offer.kind}),
        )


@blp.route("/offers/<int:offer_id>/end")
class EndOffer(MethodView):
    decorators = [api_key_required]

    @blp.response(200, OfferSchema)
    @_documented
    def post(self, offer_id: int) -> Offer:
        """End an offer now: its links say it has ended."""
        return services.end_offer(session=get_session(), actor=current_actor(), offer_id=offer_id)


@blp.route("/opportunities")
class Opportunities(MethodView):
    decorators = [api_key_required]

    @blp.arguments(OpportunityArgs, location="query")
    @blp.response(200, page_schema(OpportunitySchema))
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Customers who said yes to your own offers: open first, then newest."""
        rows = services.list_opportunities(
            session=get_session(), business_id=g.business.id, status=args["status"]
        )
        return _page([opportunity for opportunity, _, _ in rows], args)


@blp.route("/opportunities/<int:opportunity_id>/won")
class WinOpportunity(MethodView):
    decorators = [api_key_required]

    @blp.arguments(OpportunityWonSchema)
    @blp.response(200, OpportunitySchema)
    @_documented
    @blp.alt_response(409, description="The opportunity is closed.", schema="Error")
    def post(self, data: dict[str, Any], opportunity_id: int) -> Opportunity:
        """The customer bought: the sale is recorded as a job for them."""
        return services.win_opportunity(
            session=get_session(), actor=current_actor(), opportunity_id=opportunity_id, **data
        )


@blp.route("/opportunities/<int:opportunity_id>/lost")
class LoseOpportunity(MethodView):
    decorators = [api_key_required]

    @blp.arguments(OpportunityLostSchema)
    @blp.response(200, OpportunitySchema)
    @_documented
    @blp.alt_response(409, description="The opportunity is closed.", schema="Error")
    def post(self, data: dict[str, Any], opportunity_id: int) -> Opportunity:
        """The customer did not buy."""
        return services.lose_opportunity(
            session=get_session(), actor=current_actor(), opportunity_id=opportunity_id, **data
        )
