"""API: payment status (/api/v1/payments). Its tag in the reference also
lists commissions (referral/commissions/api.py) and settlements
(referral/settlements/api.py)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import g
from flask.views import MethodView

from referral.auth.current import api_key_required
from referral.db import get_session
from referral.payments import services
from referral.restapi import Blueprint

blp = Blueprint(
    "api_payments",
    __name__,
    url_prefix="",
    description="Whether the business can be paid and can pay (Stripe Connect and a saved card).",
)


class PaymentStatusSchema(ma.Schema):
    can_be_paid = ma.fields.Boolean(
        metadata={"description": "A connected Stripe account with charges and payouts enabled."}
    )
    stripe_account_id = ma.fields.String(allow_none=True)
    missing = ma.fields.List(ma.fields.String(), metadata={"description": "What Stripe needs."})
    can_pay = ma.fields.Boolean(metadata={"description": "A saved card for settlements."})
    card_brand = ma.fields.String(allow_none=True)
    card_last4 = ma.fields.String(allow_none=True)


ERRORS = [(401, "No valid API key."), (404, "Not found.")]


def _documented(view: Any) -> Any:
    for code, description in ERRORS:
        view = blp.alt_response(code, description=description, schema="Error")(view)
    return view


@blp.route("/payments/status")
class PaymentStatus(MethodView):
    decorators = [api_key_required]

    @blp.response(200, PaymentStatusSchema)
    @_documented
    def get(self) -> dict[str, Any]:
        """Whether you can be paid (Stripe account) and can pay (saved card)."""
        overview = services.overview(get_session(), g.business.id)
        return {
            "can_be_paid": overview.can_be_paid,
            "stripe_account_id": overview.account.stripe_account_id if overview.account else None,
            "missing": overview.missing if not overview.can_be_paid else [],
            "can_pay": overview.can_pay,
            "card_brand": overview.billing.card_brand if overview.can_pay else None,
            "card_last4": overview.billing.card_last4 if overview.can_pay else None,
        }
