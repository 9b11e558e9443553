"""The REST API's parts: flask-smorest with the project's error shape,
Idempotency-Key on creation, and one page envelope. It imports no domain; the
API blueprints are registered by the app's wiring (`referral.domains`)."""

from __future__ import annotations

import functools
from typing import Any

import marshmallow as ma
from flask import Flask, Response
from flask_smorest import Api as SmorestApi
from flask_smorest import Blueprint as SmorestBlueprint
from sqlalchemy import func, select
from sqlmodel import Session

from referral import errors, idempotency


class ErrorSchema(ma.Schema):
    """An RFC 9457 problem (application/problem+json); `message` and `errors`
    are extension members kept for clients written before problem details."""

    type = ma.fields.String(
        required=True, metadata={"description": "A URI naming the problem; about:blank here."}
    )
    title = ma.fields.String(required=True, metadata={"description": "The HTTP status phrase."})
    status = ma.fields.Integer(required=True)
    detail = ma.fields.String(required=True, metadata={"description": "What went wrong."})
    message = ma.fields.String(required=True, metadata={"description": "The same as `detail`."})
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Raw(),
        metadata={"description": "Field name -> its messages, for input that is not valid."},
    )


class Api(SmorestApi):
    """flask-smorest's Api, answering errors with the project's one problem shape."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: Any) -> Response:  # type: ignore[override]
        return errors.handle_http_exception(error)

    def _register_responses(self) -> None:
        """flask-smorest's shared error responses, as problem details."""
        default = self.DEFAULT_RESPONSE_CONTENT_TYPE
        self.DEFAULT_RESPONSE_CONTENT_TYPE = errors.PROBLEM_JSON
        try:
            super()._register_responses()  # type: ignore[misc]
        finally:
            self.DEFAULT_RESPONSE_CONTENT_TYPE = default


UNAUTHORIZED_HEADER = {
    "description": "How to authenticate: `Bearer`, with an API key.",
    "schema": {"type": "string"},
}


class Blueprint(SmorestBlueprint):
    def response(self, status_code: Any, schema: Any = None, **kwargs: Any) -> Any:
        """flask-smorest's; a 201 (something created) honours Idempotency-Key."""
        serialize = super().response(status_code, schema, **kwargs)
        if str(status_code) != "201":
            return serialize
        documented = self.doc(parameters=[idempotency.PARAMETER])
        return lambda view: documented(idempotency.idempotent(serialize(view)))

    def alt_response(self, status_code: Any, response: Any = None, **kwargs: Any) -> Any:
        """flask-smorest's; an error documented as application/problem+json."""
        if kwargs.get("schema") == "Error":
            kwargs.setdefault("content_type", errors.PROBLEM_JSON)
        if str(status_code) == "401":
            kwargs.setdefault("headers", {"WWW-Authenticate": UNAUTHORIZED_HEADER})
        return super().alt_response(status_code, response, **kwargs)

    def arguments(self, schema: Any, *, location: str = "json", **kwargs: Any) -> Any:
        """flask-smorest's, also documenting the 400 answered to a body that is not JSON.
        A schema class is made an instance here, once: webargs would make one per
        request (the response schema is one instance already)."""
        if isinstance(schema, type):
            schema = schema()
        parse = super().arguments(schema, location=location, **kwargs)
        if location != "json":
            return parse
        malformed = self.alt_response(
            400, description="The body is not valid JSON.", schema="Error"
        )
        return lambda view: malformed(parse(view))


@functools.cache
def field_names(schema: type[ma.Schema]) -> tuple[str, ...]:
    """The fields a schema dumps, read once per schema (building an instance
    to read them built every field again, for each object answered)."""
    return tuple(schema().fields)


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


def _no_default_its_format_refuses(
    self: Any, field: ma.fields.Field, ret: dict[str, Any], **_: Any
) -> dict[str, Any]:
    """An optional email field defaults to "" (absent), which is no email: the
    spec leaves such a default out, so it stays valid OpenAPI."""
    if ret.get("default") == "" and ret.get("format"):
        del ret["default"]
    return {}


def make_api(app: Flask) -> Api:
    """A fresh Api (and spec) per app, so many apps can live in one process."""
    api = Api(app)
    api.ma_plugin.converter.add_attribute_function(_no_default_its_format_refuses)  # type: ignore[union-attr]
    return api
