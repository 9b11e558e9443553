"""API: settlements you pay or receive, with their lines (/api/v1/settlements).
Listed in the reference under payments' tag, beside commissions and payment
status."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import g
from flask.views import MethodView
from sqlalchemy import or_
from sqlmodel import select

from referral.auth.current import api_key_required
from referral.db import get_session
from referral.restapi import Blueprint, PageArgs, field_names, page_schema, paginate
from referral.settlements import services
from referral.settlements.models import STATUSES, Settlement

blp = Blueprint(
    "api_settlements",
    __name__,
    url_prefix="",
    description="Settlements: what each partnership's commissions netted to, and their payment.",
)


class SettlementSchema(ma.Schema):
    id = ma.fields.Integer()
    partnership_id = ma.fields.Integer()
    debtor_id = ma.fields.Integer()
    creditor_id = ma.fields.Integer()
    currency = ma.fields.String()
    debtor_owed_cents = ma.fields.Integer()
    creditor_owed_cents = ma.fields.Integer()
    net_cents = ma.fields.Integer()
    platform_fee_cents = ma.fields.Integer()
    status = ma.fields.String(metadata={"description": ", ".join(STATUSES)})
    waiting_reason = ma.fields.String()
    attempts = ma.fields.Integer()
    next_attempt_at = ma.fields.DateTime(allow_none=True)
    paid_at = ma.fields.DateTime(allow_none=True)
    created_at = ma.fields.DateTime()


class SettlementLineSchema(ma.Schema):
    commission_id = ma.fields.Integer()
    referral_id = ma.fields.Integer()
    payer_id = ma.fields.Integer()
    amount_cents = ma.fields.Integer()


class SettlementDetailSchema(SettlementSchema):
    lines = ma.fields.List(ma.fields.Nested(SettlementLineSchema))


ERRORS = [(401, "No valid API key."), (404, "Not found.")]


def _documented(view: Any) -> Any:
    for code, description in ERRORS:
        view = blp.alt_response(code, description=description, schema="Error")(view)
    return view


@blp.route("/settlements")
class Settlements(MethodView):
    decorators = [api_key_required]

    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(SettlementSchema))
    @_documented
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Settlements you pay or receive, newest first."""
        query = select(Settlement).where(
            or_(Settlement.debtor_id == g.business.id, Settlement.creditor_id == g.business.id)
        )
        return paginate(
            get_session(),
            query.order_by(Settlement.id.desc()),  # type: ignore[union-attr]
            page=args["page"],
            per_page=args["per_page"],
        )


@blp.route("/settlements/<int:settlement_id>")
class SettlementItem(MethodView):
    decorators = [api_key_required]

    @blp.response(200, SettlementDetailSchema)
    @_documented
    def get(self, settlement_id: int) -> dict[str, Any]:
        """One settlement with its lines."""
        db = get_session()
        settlement = services.get_settlement(db, g.business.id, settlement_id)
        data = {name: getattr(settlement, name) for name in field_names(SettlementSchema)}
        data["lines"] = [
            {
                "commission_id": line.commission_id,
                "referral_id": commission.referral_id,
                "payer_id": line.payer_id,
                "amount_cents": line.amount_cents,
            }
            for line, commission in services.lines_of(db, settlement_id)
        ]
        return data
