"""API: my customers and their jobs (/api/v1/customers)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import g
from flask.views import MethodView

from referral.api import Blueprint, PageArgs, page_schema, paginate
from referral.auth.current import api_key_required
from referral.customers import services
from referral.customers.schemas import CustomerOutSchema, CustomerSchema, JobOutSchema, JobSchema
from referral.db import get_session

blp = Blueprint(
    "api_customers", __name__, url_prefix="", description="Your customers and their jobs."
)


class CustomerListArgs(PageArgs):
    q = ma.fields.String(
        load_default="", validate=ma.validate.Length(max=120), metadata={"description": "Search."}
    )


class CustomerDetailSchema(CustomerOutSchema):
    jobs = ma.fields.List(ma.fields.Nested(JobOutSchema))
    lifetime_value_cents = ma.fields.Integer()


def _detail(customer_id: int) -> dict[str, Any]:
    session = get_session()
    customer = services.get_customer(
        session=session, business_id=g.business.id, customer_id=customer_id
    )
    jobs = services.customer_jobs(session=session, customer=customer)
    fields = {name: getattr(customer, name) for name in CustomerSchema().fields}
    return {
        **fields,
        "id": customer.id,
        "created_at": customer.created_at,
        "erased": customer.erased,
        "jobs": jobs,
        "lifetime_value_cents": sum(job.amount_cents for job in jobs),
    }


@blp.route("/customers")
class Customers(MethodView):
    decorators = [api_key_required]

    @blp.arguments(CustomerListArgs, location="query")
    @blp.response(200, page_schema(CustomerOutSchema))
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Your customers, by name."""
        query = services.customers_query(business_id=g.business.id, search=args["q"])
        return paginate(get_session(), query, page=args["page"], per_page=args["per_page"])

    @blp.arguments(CustomerSchema)
    @blp.response(201, CustomerDetailSchema)
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Add a customer (an email address or a phone number is required)."""
        customer = services.create_customer(
            session=get_session(), business_id=g.business.id, data=data
        )
        assert customer.id is not None
        return _detail(customer.id)


@blp.route("/customers/<int:customer_id>")
class CustomerItem(MethodView):
    decorators = [api_key_required]

    @blp.response(200, CustomerDetailSchema)
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    @blp.alt_response(404, description="Not one of your customers.", schema="Error")
    def get(self, customer_id: int) -> dict[str, Any]:
        """A customer with every job and their lifetime value."""
        return _detail(customer_id)


@blp.route("/customers/<int:customer_id>/jobs")
class CustomerJobs(MethodView):
    decorators = [api_key_required]

    @blp.arguments(JobSchema)
    @blp.response(201, CustomerDetailSchema)
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    @blp.alt_response(404, description="Not one of your customers.", schema="Error")
    def post(self, data: dict[str, Any], customer_id: int) -> dict[str, Any]:
        """Record a job done for the customer."""
        session = get_session()
        customer = services.get_customer(
            session=session, business_id=g.business.id, customer_id=customer_id
        )
        services.add_job(session=session, customer=customer, data=data)
        return _detail(customer_id)
