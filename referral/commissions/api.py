"""API: commissions earned and owed, and the changes to a won job that move
them (/api/v1/commissions, /api/v1/referrals/<id>/job-value and /refunds).
Listed in the reference under payments' tag, beside settlements and payment
status."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import g
from flask.views import MethodView
from sqlmodel import select

from referral.auth.current import api_key_required
from referral.auth.roles import MANAGING_ROLES, require_role
from referral.businesses.actor import current_actor
from referral.commissions import services
from referral.commissions.models import STATUSES, Commission
from referral.db import get_session
from referral.errors import DomainError
from referral.money import MAX_JOB_CENTS, Cents
from referral.restapi import Blueprint, PageArgs, field_names, page_schema, paginate

blp = Blueprint(
    "api_commissions",
    __name__,
    url_prefix="",
    description="Commissions earned and owed, job values and refunds.",
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
    status = ma.fields.String(metadata={"description": ", ".join(STATUSES)})
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
    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES))


class JobValueSchema(ma.Schema):
    job_value_cents = Cents(required=True, maximum=MAX_JOB_CENTS)


class RefundSchema(ma.Schema):
    refund_cents = Cents(required=True, minimum=1, maximum=MAX_JOB_CENTS)


ERRORS = [(401, "No valid API key."), (404, "Not found.")]


def _documented(view: Any) -> Any:
    for code, description in ERRORS:
        view = blp.alt_response(code, description=description, schema="Error")(view)
    return view


def _commission_view(commission: Commission) -> dict[str, Any]:
    data = {name: getattr(commission, name, None) for name in field_names(CommissionSchema)}
    data["outstanding_cents"] = services.outstanding_cents(commission)
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
            services.get_commission(get_session(), g.business.id, commission_id)
        )


def _require_manager() -> None:
    # A 409, as the job-value and refund routes have always answered.
    require_role(
        current_actor().role,
        MANAGING_ROLES,
        "Only owners' and managers' keys can change a job's value.",
        error=DomainError,
    )


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
        commission = services.correct_job_value(
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
        commission = services.report_refund(
            session=get_session(),
            business_id=g.business.id,
            referral_id=referral_id,
            refund_cents=data["refund_cents"],
        )
        if commission is None:
            raise DomainError("These terms pay no commission on a won job.")
        return _commission_view(commission)
