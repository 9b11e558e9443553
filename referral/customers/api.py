"""API: my customers, their jobs, and importing them (/api/v1/customers)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import g, request
from flask.views import MethodView
from flask_smorest.fields import Upload

from referral.auth.current import api_key_required
from referral.customers import imports, presets, reading, services
from referral.customers.models import CustomerImport, ImportStatus
from referral.customers.reading import FileProblem
from referral.customers.schemas import CustomerOutSchema, CustomerSchema, JobOutSchema, JobSchema
from referral.db import get_session
from referral.errors import ValidationFailed
from referral.restapi import Blueprint, PageArgs, field_names, page_schema, paginate

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
    fields = {name: getattr(customer, name) for name in field_names(CustomerSchema)}
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


# --- Imports ----------------------------------------------------------------------------


class ImportFileSchema(ma.Schema):
    file = Upload(required=True, metadata={"description": "The CSV file (at most 20 MB)."})


class ImportSchema(ma.Schema):
    id = ma.fields.Integer()
    status = ma.fields.String(
        metadata={"description": "uploaded, queued, running, done, failed or undone."}
    )
    filename = ma.fields.String()
    size_bytes = ma.fields.Integer()
    encoding = ma.fields.String(metadata={"description": "utf-8, utf-8-sig, utf-16 or cp1252."})
    delimiter = ma.fields.String(metadata={"description": "',', ';' or a tab."})
    line_ending = ma.fields.String()
    columns = ma.fields.List(ma.fields.String(), metadata={"description": "The file's columns."})
    mapping = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        metadata={"description": "Referral field -> the file's column."},
    )
    preset = ma.fields.String(
        metadata={"description": "The tool the file was recognised as (or chosen) from; '' other."}
    )
    mapping_errors = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.List(ma.fields.String())
    )
    rows_total = ma.fields.Integer()
    rows_done = ma.fields.Integer()
    counts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    message = ma.fields.String()
    created_at = ma.fields.DateTime()
    finished_at = ma.fields.DateTime(allow_none=True)
    undone_at = ma.fields.DateTime(allow_none=True)


class ImportMappingSchema(ma.Schema):
    mapping = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.OneOf(list(reading.FIELDS))),
        values=ma.fields.String(validate=ma.validate.Length(max=255)),
        metadata={
            "description": "Referral field -> the file's column; fields left out are not "
            "imported. With `preset`, changes to the preset's mapping ('' unmaps a field)."
        },
    )
    preset = ma.fields.String(
        validate=ma.validate.OneOf([*presets.PRESETS, presets.OTHER]),
        metadata={
            "description": "The tool the file was exported from, whose columns are mapped: "
            + ", ".join(f"{key} ({p.label})" for key, p in presets.PRESETS.items())
            + "; '' for the file's own columns (mapped by their names)."
        },
    )

    encoding = ma.fields.String(validate=ma.validate.OneOf(list(reading.ENCODINGS)))
    delimiter = ma.fields.String(validate=ma.validate.OneOf(list(reading.DELIMITERS)))
    fix_zip_zeros = ma.fields.Boolean(load_default=False)


class ImportStartSchema(ma.Schema):
    updates = ma.fields.String(
        load_default="overwrite",
        validate=ma.validate.OneOf(["overwrite", "keep"]),
        metadata={"description": "Whether changed fields of existing customers are overwritten."},
    )
    keep = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(list(reading.FIELDS)))),
        load_default=dict,
        metadata={"description": "Line -> fields whose existing value is kept."},
    )
    conflicts = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(validate=ma.validate.OneOf(["skip", "new", "merge"])),
        load_default=dict,
        metadata={"description": "Line -> how a conflict is resolved (skipped when absent)."},
    )


class ImportChangeSchema(ma.Schema):
    field = ma.fields.String()
    old = ma.fields.Raw()
    new = ma.fields.Raw()


class ImportPreviewRowSchema(ma.Schema):
    line = ma.fields.Integer()
    outcome = ma.fields.String(
        metadata={"description": "created, updated, unchanged, skipped or error."}
    )
    label = ma.fields.String()
    reason = ma.fields.String()
    conflict = ma.fields.Boolean()
    customer_id = ma.fields.Integer(allow_none=True)
    same_as_line = ma.fields.Integer(allow_none=True)
    changes = ma.fields.List(ma.fields.Nested(ImportChangeSchema))
    job_outcome = ma.fields.String(metadata={"description": "added, existing, 'in file' or ''."})


class ImportPreviewSchema(ma.Schema):
    rows_total = ma.fields.Integer()
    counts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    rows = ma.fields.List(ma.fields.Nested(ImportPreviewRowSchema))


class ImportOutcomeSchema(ma.Schema):
    line = ma.fields.Integer()
    outcome = ma.fields.String()
    customer_id = ma.fields.Integer(allow_none=True)
    job_id = ma.fields.Integer(allow_none=True)
    message = ma.fields.String()


def _import_view(record: CustomerImport) -> dict[str, Any]:
    session = get_session()
    view: dict[str, Any] = {
        name: getattr(record, name) for name in field_names(ImportSchema) if hasattr(record, name)
    }
    view["preset"] = record.choices.get("preset", "")
    if record.status == ImportStatus.UPLOADED:
        try:
            columns = imports.describe_file(session=session, record=record).columns
        except FileProblem as problem:
            columns, view["message"] = [], problem.message
        view["columns"] = columns
        view["mapping_errors"] = reading.check_mapping(record.mapping, columns) if columns else {}
    return view


def _own_import(import_id: int) -> CustomerImport:
    return imports.get_import(session=get_session(), business_id=g.business.id, import_id=import_id)


@blp.route("/customers/imports")
class CustomerImports(MethodView):
    decorators = [api_key_required]
    max_content_length = reading.MAX_IMPORT_BYTES + 64 * 1024

    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(ImportSchema))
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Your imports, newest first."""
        query = imports.imports_query(business_id=g.business.id)
        return paginate(get_session(), query, page=args["page"], per_page=args["per_page"])

    @blp.arguments(ImportFileSchema, location="files")
    @blp.response(201, ImportSchema)
    @blp.alt_response(400, description="The body is not multipart form data.", schema="Error")
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    @blp.alt_response(409, description="The same file is already being imported.", schema="Error")
    @blp.alt_response(413, description="The file is larger than 20 MB.", schema="Error")
    @blp.alt_response(422, description="Not a CSV file (the message says why).", schema="Error")
    def post(self, files: dict[str, Any]) -> dict[str, Any]:
        """Upload a customer list (multipart, field `file`): its columns and a proposed
        mapping come back; change the mapping, preview, then start it."""
        if request.form or len(request.files) > 1:  # only `file` is read: say so
            extra = [*request.form, *(name for name in request.files if name != "file")]
            raise ValidationFailed(
                "Only the field `file` is read.",
                errors={name: ["Unknown field."] for name in extra},
            )
        upload = files["file"]
        record = imports.upload_import(
            session=get_session(),
            business_id=g.business.id,
            user_id=None,
            filename=upload.filename or "customers.csv",
            content=upload.read(reading.MAX_IMPORT_BYTES + 1),
        )
        return _import_view(record)


@blp.route("/customers/imports/<int:import_id>")
class CustomerImportItem(MethodView):
    decorators = [api_key_required]

    @blp.response(200, ImportSchema)
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    @blp.alt_response(404, description="Not one of your imports.", schema="Error")
    def get(self, import_id: int) -> dict[str, Any]:
        """An import: its mapping, status, progress and what it did."""
        return _import_view(_own_import(import_id))


@blp.route("/customers/imports/<int:import_id>/mapping")
class CustomerImportMapping(MethodView):
    decorators = [api_key_required]

    @blp.arguments(ImportMappingSchema)
    @blp.response(200, ImportSchema)
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    @blp.alt_response(404, description="Not one of your imports.", schema="Error")
    @blp.alt_response(409, description="The import has already run.", schema="Error")
    @blp.alt_response(422, description="The mapping names no such column.", schema="Error")
    def put(self, data: dict[str, Any], import_id: int) -> dict[str, Any]:
        """Set how the file is read and which column each Referral field takes."""
        record = _own_import(import_id)  # another business's import is a 404 first
        if "mapping" not in data and "preset" not in data:
            raise ValidationFailed(
                "Some fields are not valid.",
                errors={"mapping": ["Give a mapping, a preset, or both."]},
            )
        errors = imports.set_reading(
            session=get_session(),
            record=record,
            encoding=data.get("encoding", record.encoding),
            delimiter=data.get("delimiter", record.delimiter),
            mapping=data.get("mapping", {}),
            fix_zip_zeros=data["fix_zip_zeros"],
            preset=data.get("preset"),
        )
        if errors:
            raise ValidationFailed("The mapping cannot be imported.", errors=errors)
        return _import_view(record)


@blp.route("/customers/imports/<int:import_id>/preview")
class CustomerImportPreview(MethodView):
    decorators = [api_key_required]

    @blp.response(200, ImportPreviewSchema)
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    @blp.alt_response(404, description="Not one of your imports.", schema="Error")
    @blp.alt_response(422, description="The mapping is not complete.", schema="Error")
    def get(self, import_id: int) -> dict[str, Any]:
        """What importing would do: counts, and the rows that need a look first
        (once it has run: what it did, and its outcomes are listed apart)."""
        record = _own_import(import_id)
        if record.status != ImportStatus.UPLOADED:
            return {"rows_total": record.rows_total, "counts": record.counts, "rows": []}
        session = get_session()
        columns = imports.describe_file(session=session, record=record).columns
        errors = reading.check_mapping(record.mapping, columns)
        if errors:
            raise ValidationFailed("Finish mapping the columns first.", errors=errors)
        plan = imports.plan_import(session=session, record=record)
        return {"rows_total": plan.rows_total, "counts": plan.counts, "rows": plan.shown}


@blp.route("/customers/imports/<int:import_id>/start")
class CustomerImportStart(MethodView):
    decorators = [api_key_required]

    @blp.arguments(ImportStartSchema)
    @blp.response(202, ImportSchema)
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    @blp.alt_response(404, description="Not one of your imports.", schema="Error")
    @blp.alt_response(422, description="The mapping is not complete.", schema="Error")
    def post(self, data: dict[str, Any], import_id: int) -> dict[str, Any]:
        """Import the file with these choices (large files run in the background:
        poll the import). Starting it again does nothing."""
        session = get_session()
        record = _own_import(import_id)
        if record.status == ImportStatus.UPLOADED:
            imports.set_choices(session=session, record=record, **data)
            imports.plan_import(session=session, record=record, shown=0)
            imports.start_import(session=session, record=record)
        return _import_view(record)


@blp.route("/customers/imports/<int:import_id>/outcomes")
class CustomerImportOutcomes(MethodView):
    decorators = [api_key_required]

    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(ImportOutcomeSchema))
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    @blp.alt_response(404, description="Not one of your imports.", schema="Error")
    def get(self, args: dict[str, Any], import_id: int) -> dict[str, Any]:
        """What each line of the file did."""
        record = _own_import(import_id)
        query = imports.outcomes_query(record=record)
        return paginate(get_session(), query, page=args["page"], per_page=args["per_page"])


@blp.route("/customers/imports/<int:import_id>/undo")
class CustomerImportUndo(MethodView):
    decorators = [api_key_required]

    @blp.response(200, ImportSchema)
    @blp.alt_response(401, description="No valid API key.", schema="Error")
    @blp.alt_response(404, description="Not one of your imports.", schema="Error")
    @blp.alt_response(
        409, description="It can no longer be undone (the message says why).", schema="Error"
    )
    def post(self, import_id: int) -> dict[str, Any]:
        """Undo an import within 24 hours, unless its customers have since been referred."""
        record = imports.undo_import(session=get_session(), record=_own_import(import_id))
        return _import_view(record)
