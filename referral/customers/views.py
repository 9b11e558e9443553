"""Pages: my customers, their jobs, and importing them from CSV."""

from __future__ import annotations

from functools import partial
from typing import Any

from flask import (
    Blueprint,
    Response,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from referral.auth.current import login_required, roles_required
from referral.customers import imports, marketing, presets, reading, services
from referral.customers.models import Customer, CustomerImport, ImportStatus, PermissionSource
from referral.customers.reading import FileProblem
from referral.customers.schemas import CustomerFormSchema, JobFormSchema
from referral.db import get_session
from referral.errors import ValidationFailed
from referral.forms import parse_form, run_action
from referral.listing import page_of
from referral.security import accepts_uploads_up_to
from referral.spreadsheet import csv_download

bp = Blueprint("customers", __name__)


@bp.get("/customers.csv")
@login_required
def export() -> Response:
    """The business's customers as CSV (streamed) in the columns the import reads,
    so an edited export imports back as updates."""
    return csv_download(
        "customers.csv",
        imports.EXPORT_HEADER,
        partial(imports.export_customer_rows, business_id=g.business.id),
    )


@bp.get("/customers")
@login_required
def index() -> str:
    """My customers, searchable."""
    search = request.args.get("q", "")
    listing = page_of(
        get_session(),
        services.customers_query(business_id=g.business.id, search=search),
        sorts={"name": Customer.name, "date": Customer.id, "zip": Customer.zip_code},
        default="name",
        tiebreak=Customer.id,
    )
    return render_template("customers/index.html", listing=listing, q=search)


def _form_page(status: int = 200, **context: Any) -> tuple[str, int]:
    context.setdefault("errors", {})
    context.setdefault("form", {})
    return render_template("customers/new.html", **context), status


@bp.route("/customers/new", methods=["GET", "POST"])
@login_required
def new() -> Response | tuple[str, int]:
    """Add a customer."""
    if request.method == "GET":
        return _form_page()
    data, errors = parse_form(CustomerFormSchema(), request.form)
    if errors:
        return _form_page(422, errors=errors, form=request.form)
    customer = services.create_customer(session=get_session(), business_id=g.business.id, data=data)
    _permission_from_checkbox(customer, PermissionSource.CUSTOMER_FORM)
    flash(f"{customer.name} added.", "success")
    return redirect(url_for("customers.show", customer_id=customer.id))


def _permission_from_checkbox(customer: Customer, source: PermissionSource) -> None:
    """The form's "agreed to receive offers by email" box, when ticked."""
    if request.form.get("marketing_permission") == "yes" and customer.email:
        marketing.grant_permission(
            get_session(),
            customer=customer,
            source=source,
            how=f"{source.label}, by {g.user.email}",
            user_id=g.user.id,
        )


def _customer_page(customer_id: int, status: int = 200, **context: Any) -> tuple[str, int]:
    db = get_session()
    customer = services.get_customer(session=db, business_id=g.business.id, customer_id=customer_id)
    jobs = services.customer_jobs(session=db, customer=customer)
    context.setdefault("errors", {})
    context.setdefault("form", {})
    return render_template(
        "customers/show.html",
        customer=customer,
        jobs=jobs,
        lifetime_cents=sum(job.amount_cents for job in jobs),
        marketing_refusal=marketing.refusal(db, business=g.business, customer=customer),
        suppression=marketing.suppression_of(db, customer),
        permission_history=marketing.permission_history(db, customer),
        **context,
    ), status


@bp.get("/customers/<int:customer_id>")
@login_required
def show(customer_id: int) -> tuple[str, int]:
    """A customer and every job done for them."""
    return _customer_page(customer_id)


@bp.post("/customers/<int:customer_id>/jobs")
@login_required
def add_job(customer_id: int) -> Response | tuple[str, int]:
    """Record a job done for the customer."""
    db = get_session()
    customer = services.get_customer(session=db, business_id=g.business.id, customer_id=customer_id)
    data, errors = parse_form(JobFormSchema(), request.form)
    if errors:
        return _customer_page(customer_id, 422, errors=errors, form=request.form)
    try:
        services.add_job(session=db, customer=customer, data=data)
    except ValidationFailed as refused:
        return _customer_page(customer_id, 422, errors=refused.errors, form=request.form)
    if customer.marketing_permission != "granted":
        _permission_from_checkbox(customer, PermissionSource.JOB_FORM)
    flash("Job recorded.", "success")
    return redirect(url_for("customers.show", customer_id=customer_id))


@bp.post("/customers/<int:customer_id>/erase")
@roles_required("owner", "manager")
def erase(customer_id: int) -> Response:
    """Erase the customer's personal data everywhere, at their request."""
    services.erase_customer(
        session=get_session(), business_id=g.business.id, customer_id=customer_id
    )
    flash("The customer's personal data is erased. Partners who had it were told.", "success")
    return redirect(url_for("customers.show", customer_id=customer_id))


# --- Importing a customer list ----------------------------------------------------------


def _import_page(record: CustomerImport, status: int = 200, **context: Any) -> tuple[str, int]:
    db = get_session()
    context.setdefault("errors", {})
    view = plan = None
    if record.status == ImportStatus.UPLOADED:
        try:
            view = imports.describe_file(session=db, record=record)
            if not reading.check_mapping(record.mapping, view.columns):
                plan = imports.plan_import(session=db, record=record)
        except FileProblem as problem:
            context["errors"] = {**context["errors"], "file": [problem.message]}
            status = 422
    return render_template(
        "customers/import_record.html",
        record=record,
        view=view,
        plan=plan,
        fields=reading.FIELDS,
        presets=presets.PRESETS,
        encodings=reading.ENCODINGS,
        delimiters=reading.DELIMITERS,
        line_endings=reading.LINE_ENDINGS,
        undo_blocker=imports.undo_blockers(session=db, record=record),
        **context,
    ), status


def _own_import(import_id: int) -> CustomerImport:
    return imports.get_import(session=get_session(), business_id=g.business.id, import_id=import_id)


@bp.route("/customers/import", methods=["GET", "POST"])
@accepts_uploads_up_to(reading.MAX_IMPORT_BYTES + 64 * 1024)
@login_required
def import_csv() -> Response | tuple[str, int]:
    """Upload a customer list (CSV) to map, preview and import."""
    db = get_session()
    recent = db.scalars(imports.imports_query(business_id=g.business.id).limit(10)).all()
    if request.method == "GET":
        return render_template("customers/import.html", imports=recent, errors={}), 200
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        errors = {"file": ["Choose a CSV file to upload."]}
        return render_template("customers/import.html", imports=recent, errors=errors), 422
    try:
        record = imports.upload_import(
            session=db,
            business_id=g.business.id,
            user_id=g.user.id,
            filename=upload.filename,
            content=upload.read(reading.MAX_IMPORT_BYTES + 1),
        )
    except imports.ImportConflict as twin:
        flash(twin.message, "error")
        return redirect(url_for("customers.import_record", import_id=twin.existing.id))
    except FileProblem as problem:
        errors = {"file": [problem.message]}
        return render_template("customers/import.html", imports=recent, errors=errors), 422
    return redirect(url_for("customers.import_record", import_id=record.id))


@bp.get("/customers/imports/<int:import_id>")
@login_required
def import_record(import_id: int) -> tuple[str, int]:
    """An import: its mapping and preview, its progress, or what it did."""
    return _import_page(_own_import(import_id))


@bp.post("/customers/imports/<int:import_id>/mapping")
@login_required
def import_mapping(import_id: int) -> Response | tuple[str, int]:
    """Change how the file is read (encoding, delimiter) and mapped to Referral's fields."""
    record = _own_import(import_id)
    # "Use these columns" next to the File-from chooser applies the preset's
    # mapping in place of the selects; otherwise the selects are the mapping.
    applying = "apply_preset" in request.form
    mapping = (
        {} if applying else {name: request.form.get(f"map-{name}", "") for name in reading.FIELDS}
    )
    errors = imports.set_reading(
        session=get_session(),
        record=record,
        encoding=request.form.get("encoding", ""),
        delimiter=request.form.get("delimiter", ""),
        mapping=mapping,
        fix_zip_zeros=request.form.get("fix_zip_zeros") == "yes",
        preset=request.form.get("preset"),
        apply_preset=applying,
    )
    if errors:
        return _import_page(record, 422, errors=errors)
    anchor = "#columns" if applying else "#preview"
    return redirect(url_for("customers.import_record", import_id=import_id) + anchor)


@bp.post("/customers/imports/<int:import_id>/start")
@login_required
def import_start(import_id: int) -> Response | tuple[str, int]:
    """Import the file as previewed, with the choices made for updates and conflicts."""
    db = get_session()
    record = _own_import(import_id)
    if record.status != ImportStatus.UPLOADED:
        flash("This import has already started.", "info")
        return redirect(url_for("customers.import_record", import_id=import_id))
    keep: dict[str, list[str]] = {}
    for value in request.form.getlist("keep"):
        line, _, name = value.partition(":")
        keep.setdefault(line, []).append(name)
    conflicts = {
        key.removeprefix("conflict-"): value
        for key, value in request.form.items()
        if key.startswith("conflict-")
    }
    imports.set_choices(
        session=db,
        record=record,
        updates=request.form.get("updates", "overwrite"),
        keep=keep,
        conflicts=conflicts,
    )
    imports.plan_import(session=db, record=record, shown=0)
    imports.start_import(session=db, record=record)
    if record.status == ImportStatus.DONE:
        flash("Import finished.", "success")
    return redirect(url_for("customers.import_record", import_id=import_id))


@bp.get("/customers/imports/<int:import_id>/status.json")
@login_required
def import_status(import_id: int) -> Response:
    """An import's progress, for the page that shows it."""
    record = _own_import(import_id)
    return jsonify(
        status=record.status,
        rows_done=record.rows_done,
        rows_total=record.rows_total,
        errors=int(record.counts.get("rows_with_errors", 0)),
        counts=record.counts,
        finished=record.status not in (ImportStatus.QUEUED, ImportStatus.RUNNING),
    )


@bp.get("/customers/imports/<int:import_id>/outcomes.csv")
@login_required
def import_outcomes(import_id: int) -> Response:
    """What each line of the file did, as CSV."""
    record = _own_import(import_id)
    # Built whole (a few MB at most) so the request's session is closed with it.
    body = "".join(imports.outcome_csv(session=get_session(), record=record))
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="import-{record.id}-outcomes.csv"'},
    )


@bp.post("/customers/imports/<int:import_id>/undo")
@roles_required("owner", "manager")
def import_undo(import_id: int) -> Response:
    """Undo an import (within 24 hours, unless its customers have since been referred)."""
    record = _own_import(import_id)
    run_action(
        lambda: imports.undo_import(session=get_session(), record=record),
        done="The import is undone: its customers and jobs are removed, its changes put back.",
    )
    return redirect(url_for("customers.import_record", import_id=import_id))
