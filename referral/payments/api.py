"""API: commissions, settlements and payment status (/api/v1/commissions,
/api/v1/settlements, /api/v1/payments)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import g
from flask.views import MethodView
from sqlalchemy import or_
from sqlmodel import select

from referral.api import Blueprint, PageArgs, page_schema, paginate
from referral.auth.current import api_key_required
from referral.commissions import services as commissions
from referral.commissions.models import STATUSES as COMMISSION_STATUSES
from referral.commissions.models import Commission
from referral.db import get_session
from referral.errors import DomainError
from referral.partnerships.services import MANAGING_ROLES, Actor
from referral.payments import services
from referral.settlements import services as settlements
from referral.settlements.models import STATUSES as SETTLEMENT_STATUSES
from referral.settlements.models import Settlement

blp = Blueprint(
    "api_payments",
    __name__,
    url_prefix="",
    description="Commissions earned and owed, their settlements, and payment status.",
)


class CommissionSchema(ma.Schema):
    id = ma.fields.Integer()
    referral_id = ma.fields.Integer()
    partnership_id = ma.fields.Integer()
    terms_version_id = ma.fields.Integer()
    referrer_id = ma.fields.Integer(metadata={"description": "The business that earns it."})
    payer_id = ma.fields.Integer(metadata={"description": "The business that pays it."})
    trigger = ma.fields.String(metadata={"description": "won or accepted"})
    basis = ma.fields.String()
    rate_bps = ma.fields.Integer(allow_none=True)
    flat_fee_cents = ma.fields.Integer(allow_none=True)
    cap_cents = ma.fields.Integer(allow_none=True)
    base_cents = ma.fields.Integer(metadata={"description": "The job value it is computed on."})
    refunded_cents = ma.fields.Integer()
    amount_cents = ma.fields.Integer(metadata={"description": "What is owed now."})
    outstanding_cents = ma.fields.Integer(
        metadata={"description": "Approved and not yet settled (negative: to be clawed back)."}
    )
    currency = ma.fields.String()
    status = ma.fields.String(metadata={"description": ", ".join(COMMISSION_STATUSES)})
    hold_until = ma.fields.DateTime()
    approved_at = ma.fields.DateTime(allow_none=True)
    settlement_id = ma.fields.Integer(allow_none=True)
    created_at = ma.fields.DateTime()


class CommissionListArgs(PageArgs):
    role = ma.fields.String(
        load_default="earned",
        validate=ma.validate.OneOf(["earned", "owed"]),
        metadata={"description": "earned: partners owe you; owed: you owe partners."},
    )
    status = ma.fields.String(validate=ma.validate.OneOf(COMMISSION_STATUSES))


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
    status = ma.fields.String(metadata={"description": ", ".join(SETTLEMENT_STATUSES)})
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


class PaymentStatusSchema(ma.Schema):
    can_be_paid = ma.fields.Boolean(
        metadata={"description": "A connected Stripe account with charges and payouts enabled."}
    )
    stripe_account_id = ma.fields.String(allow_none=True)
    missing = ma.fields.List(ma.fields.String(), metadata={"description": "What Stripe needs."})
    can_pay = ma.fields.Boolean(metadata={"description": "A saved card for settlements."})
    card_brand = ma.fields.String(allow_none=True)
    card_last4 = ma.fields.String(allow_none=True)


class JobValueSchema(ma.Schema):
    job_value_cents = ma.fields.Integer(required=True, validate=ma.validate.Range(min=0))


class RefundSchema(ma.Schema):
    refund_cents = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1))


ERRORS = [(401, "No valid API key."), (404, "Not found.")]


def _documented(view: Any) -> Any:
    for code, description in ERRORS:
        view = blp.alt_response(code, description=description, schema="Error")(view)
    return view


def _commission_view(commission: Commission) -> dict[str, Any]:
    data = {name: getattr(commission, name, None) for name in CommissionSchema().fields}
    data["outstanding_cents"] = commissions.outstanding_cents(commission)
    return data


@blp.route("/commissions")
class Commissions(MethodView):
    decorators = [api_key_required]

    @blp.arguments(CommissionListArgs, location="query")
    @blp.response(200, page_schema(CommissionSchema))
    @_documented
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Commissions partners owe you (role=earned) or you owe them (role=owed)."""
        mine = Commission.referrer_id if args["role"] == "earned" else Commission.payer_id
        query = select(Commission).where(mine == g.business.id)
        if args.get("status"):
            query = query.where(Commission.status == args["status"])
        page = paginate(
            get_session(),
            query.order_by(Commission.id.desc()),  # type: ignore[union-attr]
            page=args["page"],
            per_page=args["per_page"],
        )
        page["items"] = [_commission_view(c) for c in page["items"]]
        return page


@blp.route("/commissions/<int:commission_id>")
class CommissionItem(MethodView):
    decorators = [api_key_required]

    @blp.response(200, CommissionSchema)
    @_documented
    def get(self, commission_id: int) -> dict[str, Any]:
        """One commission you earn or owe."""
        return _commission_view(
            commissions.get_commission(get_session(), g.business.id, commission_id)
        )


def _require_manager() -> Actor:
    actor = Actor.of_api_key(get_session(), g.api_key, g.business)
    if actor.role not in MANAGING_ROLES:
        raise DomainError("Only owners' and managers' keys can change a job's value.")
    return actor


@blp.route("/referrals/<int:referral_id>/job-value")
class JobValue(MethodView):
    decorators = [api_key_required]

    @blp.arguments(JobValueSchema)
    @blp.response(200, CommissionSchema)
    @_documented
    @blp.alt_response(409, description="Not a won job you did.", schema="Error")
    def post(self, data: dict[str, Any], referral_id: int) -> dict[str, Any] | tuple[str, int]:
        """Correct the value of a job you won; its commission follows."""
        _require_manager()
        commission = commissions.correct_job_value(
            session=get_session(),
            business_id=g.business.id,
            referral_id=referral_id,
            job_value_cents=data["job_value_cents"],
        )
        if commission is None:
            raise DomainError("These terms pay no commission on a won job.")
        return _commission_view(commission)


@blp.route("/referrals/<int:referral_id>/refunds")
class Refunds(MethodView):
    decorators = [api_key_required]

    @blp.arguments(RefundSchema)
    @blp.response(200, CommissionSchema)
    @_documented
    @blp.alt_response(409, description="Not a won job you did, or too much.", schema="Error")
    def post(self, data: dict[str, Any], referral_id: int) -> dict[str, Any]:
        """Report a refund you gave the customer; the commission is reduced pro rata."""
        _require_manager()
        commission = commissions.report_refund(
            session=get_session(),
            business_id=g.business.id,
            referral_id=referral_id,
            refund_cents=data["refund_cents"],
        )
        if commission is None:
            raise DomainError("These terms pay no commission on a won job.")
        return _commission_view(commission)


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
        settlement = settlements.get_settlement(db, g.business.id, settlement_id)
        data = {name: getattr(settlement, name) for name in SettlementSchema().fields}
        data["lines"] = [
            {
                "commission_id": line.commission_id,
                "referral_id": commission.referral_id,
                "payer_id": line.payer_id,
                "amount_cents": line.amount_cents,
            }
            for line, commission in settlements.lines_of(db, settlement_id)
        ]
        return data


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
