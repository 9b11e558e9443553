"""The REST API: flask-smorest with the project's error shape and pagination."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Flask, Response
from flask_smorest import Api as SmorestApi
from flask_smorest import Blueprint as SmorestBlueprint
from sqlalchemy import func, select
from sqlmodel import Session

from referral import errors
from referral.security import csrf


class ErrorSchema(ma.Schema):
    status = ma.fields.Integer(required=True)
    message = ma.fields.String(required=True)
    errors = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Raw())


class Api(SmorestApi):
    """flask-smorest's Api, answering errors with the project's one JSON shape."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: Any) -> Response:  # type: ignore[override]
        return errors.handle_http_exception(error)


class Blueprint(SmorestBlueprint):
    def arguments(self, schema: Any, *, location: str = "json", **kwargs: Any) -> Any:
        """flask-smorest's, also documenting the 400 answered to a body that is not JSON."""
        parse = super().arguments(schema, location=location, **kwargs)
        if location != "json":
            return parse
        malformed = self.alt_response(
            400, description="The body is not valid JSON.", schema="Error"
        )
        return lambda view: malformed(parse(view))


class PageArgs(ma.Schema):
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=100_000))
    per_page = ma.fields.Integer(load_default=25, validate=ma.validate.Range(min=1, max=100))


def paginate(session: Session, query: Any, *, page: int, per_page: int) -> dict[str, Any]:
    """Run a select() for one page and count the whole; the envelope every list uses."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = session.scalars(query.limit(per_page).offset((page - 1) * per_page)).all()
    return {"items": items, "page": page, "per_page": per_page, "total": total or 0}


def page_schema(item_schema: type[ma.Schema]) -> type[ma.Schema]:
    return type(
        f"{item_schema.__name__.removesuffix('Schema')}PageSchema",
        (ma.Schema,),
        {
            "items": ma.fields.List(ma.fields.Nested(item_schema), required=True),
            "page": ma.fields.Integer(required=True),
            "per_page": ma.fields.Integer(required=True),
            "total": ma.fields.Integer(required=True),
        },
    )


def init_app(app: Flask) -> Api:
    """A fresh Api (and spec) per app, so many apps can live in one process."""
    from referral.analytics.api import blp as analytics_blp
    from referral.apikeys.api import blp as me_blp
    from referral.businesses.api import blp as businesses_blp
    from referral.customers.api import blp as customers_blp
    from referral.leads.api import blp as leads_blp
    from referral.partnerships.api import blp as partnerships_blp
    from referral.payments.api import blp as payments_blp
    from referral.referrals.api import blp as referrals_blp

    api = Api(app)
    for blueprint in (
        me_blp,
        businesses_blp,
        partnerships_blp,
        customers_blp,
        referrals_blp,
        payments_blp,
        analytics_blp,
        leads_blp,
    ):
        csrf.exempt(blueprint)  # API calls authenticate with a key, not a cookie
        api.register_blueprint(blueprint, url_prefix=f"/api/v1{blueprint.url_prefix or ''}")
    return api
