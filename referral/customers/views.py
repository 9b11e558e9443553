"""Pages: my customers, their jobs, and importing them from CSV."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from referral.api import paginate
from referral.auth.current import login_required, roles_required
from referral.customers import services
from referral.customers.schemas import CustomerFormSchema, JobFormSchema
from referral.db import get_session
from referral.forms import parse_form

bp = Blueprint("customers", __name__)

PER_PAGE = 50
# The checked text is posted back to confirm, so it must fit MAX_FORM_MEMORY_SIZE.
MAX_IMPORT_BYTES = 400 * 1024


@bp.get("/customers")
@login_required
def index() -> str:
    """My customers, searchable."""
    search = request.args.get("q", "")
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    listing = paginate(
        get_session(),
        services.customers_query(business_id=g.business.id, search=search),
        page=page,
        per_page=PER_PAGE,
    )
    pages = max(1, -(-listing["total"] // PER_PAGE))
    return render_template("customers/index.html", listing=listing, q=search, pages=pages)


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
    flash(f"{customer.name} added.", "success")
    return redirect(url_for("customers.show", customer_id=customer.id))


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
    services.add_job(session=db, customer=customer, data=data)
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


@bp.route("/customers/import", methods=["GET", "POST"])
@login_required
def import_csv() -> Response | tuple[str, int]:
    """Upload a CSV file, see every row checked, then confirm the import."""
    if request.method == "GET":
        return render_template("customers/import.html", preview=None, text=""), 200
    upload = request.files.get("file")
    text = request.form.get("text", "")
    if upload is not None and upload.filename:
        raw = upload.read(MAX_IMPORT_BYTES + 1)
        if len(raw) > MAX_IMPORT_BYTES:
            flash("The file is larger than 400 KB: split it and import the parts.", "error")
            return render_template("customers/import.html", preview=None, text=""), 413
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            flash("The file is not UTF-8 text: save it as 'CSV UTF-8' and try again.", "error")
            return render_template("customers/import.html", preview=None, text=""), 422
    db = get_session()
    preview = services.preview_customer_import(session=db, business_id=g.business.id, text=text)
    if request.form.get("confirm") == "yes" and preview.ok:
        count = services.import_customers(session=db, business_id=g.business.id, preview=preview)
        flash(f"Imported {count} rows.", "success")
        return redirect(url_for("customers.index"))
    status = 200 if preview.ok else 422
    return render_template("customers/import.html", preview=preview, text=text), status
