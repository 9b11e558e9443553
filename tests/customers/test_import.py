"""Importing a customer list: every row's outcome is explicit, the preview is
what happens, and importing the same file twice adds nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session, select

from referral.customers import imports, marketing, services
from referral.customers.models import (
    Customer,
    CustomerImport,
    CustomerImportFile,
    CustomerImportRow,
    CustomerJob,
    ImportStatus,
    MarketingPermission,
    MarketingPermissionEvent,
    PermissionSource,
)
from referral.customers.reading import FileProblem
from referral.db import utcnow
from referral.errors import DomainError
from referral.housekeeping import prune
from tests.support.factories import make_business
from tests.support.statements import sql_statements

HEADER = "name,email,phone,address,zip_code,job_date,job_description,job_amount\n"


@pytest.fixture
def business_id(db: Session) -> int:
    business = make_business(db)
    assert business.id is not None
    return business.id


def upload(db: Session, business_id: int, text: str | bytes, **choices) -> CustomerImport:  # type: ignore[no-untyped-def]
    content = text.encode() if isinstance(text, str) else text
    record = imports.upload_import(
        session=db, business_id=business_id, user_id=None, filename="c.csv", content=content
    )
    record.choices = {**record.choices, **choices}
    db.flush()
    return record


def run(db: Session, record: CustomerImport) -> dict[str, int]:
    imports.plan_import(session=db, record=record)
    imports.start_import(session=db, record=record, in_background=False)
    db.commit()
    assert record.status == ImportStatus.DONE, record.message
    return record.counts


def outcomes(db: Session, record: CustomerImport) -> dict[int, tuple[str, str]]:
    return {
        row.line: (row.outcome, row.message)
        for row in imports.outcome_rows(session=db, record=record)
    }


def add(db: Session, business_id: int, **data: str) -> Customer:
    customer = services.create_customer(session=db, business_id=business_id, data=data)
    db.commit()
    return customer


def test_a_clean_file_imports_customers_with_their_jobs(db: Session, business_id: int) -> None:
    record = upload(
        db,
        business_id,
        HEADER
        + "Ana Diaz,ANA@example.com,(512) 555-0101,1 Main St,78701,2025-03-02,AC tune-up,149.00\n"
        "Ana Diaz,ana@example.com,,1 Main St,78701,2025-09-14,New condenser,6200\n"
        "Ben Ode,,512-555-0102,,,,,\n",
    )

    counts = run(db, record)

    assert counts == {
        "customers_created": 2,
        "customers_updated": 0,
        "customers_unchanged": 0,
        "jobs_added": 2,
        "jobs_already_there": 0,
        "rows_skipped": 0,
        "rows_with_errors": 0,
    }
    customers = db.exec(select(Customer).order_by(Customer.id)).all()
    assert [(c.name, c.email, c.phone) for c in customers] == [
        ("Ana Diaz", "ana@example.com", "+15125550101"),
        ("Ben Ode", "", "+15125550102"),
    ]
    jobs = db.exec(select(CustomerJob).order_by(CustomerJob.id)).all()
    assert [(j.customer_id, j.job_date, j.amount_cents) for j in jobs] == [
        (customers[0].id, dt.date(2025, 3, 2), 14900),
        (customers[0].id, dt.date(2025, 9, 14), 620000),
    ]


def test_importing_the_same_file_again_adds_nothing(db: Session, business_id: int) -> None:
    text = HEADER + 'Ana Diaz,ana@example.com,,,,2025-03-02,New condenser,"$4,250.00"\n'
    run(db, upload(db, business_id, text))

    again = upload(db, business_id, text)
    preview = imports.plan_import(session=db, record=again)
    counts = run(db, again)

    assert preview.counts["jobs_already_there"] == 1 and preview.counts["jobs_added"] == 0
    assert counts["jobs_added"] == 0 and counts["customers_unchanged"] == 1
    assert db.exec(select(CustomerJob.amount_cents)).all() == [425000]


def test_a_job_with_an_external_id_is_the_same_job_whatever_else_changed(
    db: Session, business_id: int
) -> None:
    header = "name,email,invoice number,date,total\n"
    run(db, upload(db, business_id, header + "Ana,ana@example.com,INV-7,2025-03-02,4250\n"))
    counts = run(db, upload(db, business_id, header + "Ana,ana@example.com,INV-7,3/2/2025,4300\n"))

    assert counts["jobs_added"] == 0 and counts["jobs_already_there"] == 1


def test_an_existing_customer_is_updated_field_by_field_and_kept_fields_stay(
    db: Session, business_id: int
) -> None:
    ana = add(db, business_id, name="Ana D.", email="ana@example.com", zip_code="78701")
    record = upload(
        db, business_id, "name,email,zip_code,address\nAna Diaz,ana@example.com,78702,2 Oak\n"
    )

    preview = imports.plan_import(session=db, record=record)
    (row,) = preview.shown
    assert row.label == "Update"
    assert {(c.field, c.old, c.new) for c in row.changes} == {
        ("name", "Ana D.", "Ana Diaz"),
        ("zip_code", "78701", "78702"),
        ("address", "", "2 Oak"),
    }
    imports.set_choices(
        session=db, record=record, updates="overwrite", keep={"2": ["zip_code"]}, conflicts={}
    )
    counts = run(db, record)

    db.refresh(ana)
    assert counts["customers_updated"] == 1
    assert (ana.name, ana.zip_code, ana.address) == ("Ana Diaz", "78701", "2 Oak")
    assert outcomes(db, record)[2] == ("updated", "Changed name, street. Kept zip code.")


def test_same_phone_with_a_different_email_is_a_conflict_not_a_merge(
    db: Session, business_id: int
) -> None:
    add(db, business_id, name="Ana", email="ana@example.com", phone="+15125550101")
    record = upload(db, business_id, "name,email,phone\nBen,ben@example.com,512-555-0101\n")

    counts = run(db, record)

    assert counts["rows_skipped"] == 1 and counts["customers_created"] == 0
    assert outcomes(db, record)[2][1].startswith("Same phone as Ana")
    assert db.exec(select(Customer.email)).all() == ["ana@example.com"]


def test_a_conflict_resolved_as_a_new_customer_creates_one(db: Session, business_id: int) -> None:
    add(db, business_id, name="Ana", email="ana@example.com", phone="+15125550101")
    record = upload(db, business_id, "name,email,phone\nBen,ben@example.com,512-555-0101\n")
    imports.set_choices(
        session=db, record=record, updates="overwrite", keep={}, conflicts={"2": "new"}
    )

    counts = run(db, record)

    assert counts["customers_created"] == 1
    assert sorted(db.exec(select(Customer.email))) == ["ana@example.com", "ben@example.com"]


def test_rows_sharing_a_phone_in_one_file_are_explicit(db: Session, business_id: int) -> None:
    record = upload(
        db,
        business_id,
        "name,email,phone\n"
        "Ana,ana@example.com,512-555-0101\n"
        "Ana,ana@example.com,512-555-0101\n"
        "Ben,ben@example.com,512-555-0101\n"
        "Ana,,512-555-0101\n",
    )

    counts = run(db, record)

    assert counts["customers_created"] == 1 and counts["rows_skipped"] == 3
    assert outcomes(db, record) == {
        2: ("created", ""),
        3: ("skipped", "Duplicate of line 2."),
        4: ("skipped", "Same phone as line 2 but a different email."),
        5: ("skipped", "Duplicate of line 2."),
    }


def test_matching_uses_the_external_id_first(db: Session, business_id: int) -> None:
    ana = add(db, business_id, name="Ana", email="old@example.com")
    ana.external_id = "C-1"
    db.commit()
    record = upload(db, business_id, "customer id,name,email\nC-1,Ana,new@example.com\n")

    counts = run(db, record)

    db.refresh(ana)
    assert counts["customers_updated"] == 1 and ana.email == "new@example.com"


def test_bad_rows_are_skipped_with_their_reasons(db: Session, business_id: int) -> None:
    record = upload(
        db,
        business_id,
        HEADER + "Good Row,good@example.com,,,,,,\n"
        ",nobody@example.com,,,,,,\n"
        "No Contact,,,,,,,\n"
        "Bad Phone,,12,,,,,\n"
        "Bad Zip,z@example.com,,,00000,,,\n"
        "Bad Job,j@example.com,,,,2025-13-40,Repair,ten dollars\n"
        "Refund,r@example.com,,,,2025-01-01,Refund,-150\n",
    )

    counts = run(db, record)

    assert counts["customers_created"] == 1 and counts["rows_with_errors"] == 6
    messages = {line: message for line, (outcome, message) in outcomes(db, record).items()}
    assert messages[3].startswith("Name: The customer's name is blank.")
    assert messages[4].startswith("Email: Give an email address or a phone number.")
    assert messages[5].startswith("Phone: '12' is not a valid phone number.")
    assert "Unknown ZIP code" in messages[6]
    assert "Job date" in messages[7] and "Job value" in messages[7]
    assert "cannot be negative" in messages[8]


def test_a_phone_extension_is_kept(db: Session, business_id: int) -> None:
    run(db, upload(db, business_id, "name,phone\nAna,5125550324 ext 3\nBen,512-555-0325 x12\n"))

    assert sorted(db.exec(select(Customer.phone, Customer.phone_extension)).all()) == [
        ("+15125550324", "3"),
        ("+15125550325", "12"),
    ]


def test_a_zip_that_lost_its_leading_zero_is_offered_a_fix(db: Session, business_id: int) -> None:
    text = "name,email,zip\nAna,ana@example.com,2134\n"
    refused = upload(db, business_id, text)
    preview = imports.plan_import(session=db, record=refused)
    assert "leading zero (02134)" in preview.shown[0].reason
    refused.status = ImportStatus.FAILED
    db.commit()

    run(db, upload(db, business_id, text, fix_zip_zeros=True))

    assert db.exec(select(Customer.zip_code)).all() == ["02134"]


def test_the_same_file_cannot_be_open_twice(db: Session, business_id: int) -> None:
    first = upload(db, business_id, "name,email\nAna,ana@example.com\n")
    db.commit()

    with pytest.raises(imports.ImportConflict) as refused:
        upload(db, business_id, "name,email\nAna,ana@example.com\n")

    assert refused.value.existing.id == first.id


def test_starting_an_import_twice_runs_it_once(db: Session, business_id: int) -> None:
    record = upload(db, business_id, "name,email,date,amount\nAna,ana@example.com,2025-01-02,10\n")
    run(db, record)
    imports.start_import(session=db, record=record, in_background=False)
    db.commit()

    assert len(db.exec(select(CustomerJob)).all()) == 1
    assert len(db.exec(select(CustomerImportRow)).all()) == 1


def test_undo_removes_what_the_import_added_and_puts_back_what_it_changed(
    db: Session, business_id: int
) -> None:
    ana = add(db, business_id, name="Ana D.", email="ana@example.com")
    record = upload(
        db,
        business_id,
        "name,email,date,amount\nAna Diaz,ana@example.com,2025-01-02,10\nBen,ben@example.com,,\n",
    )
    run(db, record)

    imports.undo_import(session=db, record=record)
    db.commit()

    db.refresh(ana)
    assert ana.name == "Ana D."
    assert db.exec(select(Customer.email)).all() == ["ana@example.com"]
    assert db.exec(select(CustomerJob)).all() == []
    with pytest.raises(DomainError):
        imports.undo_import(session=db, record=record)


def history(db: Session, customer_id: int) -> list[tuple[str, str, dt.date, str]]:
    return [
        (event.change, event.source, event.occurred_on, event.how)
        for event in db.exec(
            select(MarketingPermissionEvent)
            .where(MarketingPermissionEvent.customer_id == customer_id)
            .order_by(MarketingPermissionEvent.id)  # type: ignore[arg-type]
        )
    ]


def test_an_import_records_each_permission_it_grants_or_withdraws(
    db: Session, business_id: int
) -> None:
    kept = add(db, business_id, name="Cy Lo", email="cy@example.com")
    leaving = add(db, business_id, name="Di Ro", email="di@example.com")
    marketing.grant_permission(db, customer=leaving, source=PermissionSource.STAFF)
    db.commit()
    record = upload(
        db,
        business_id,
        "name,email,Email opt-in,Opt-in date,Opt-in source\n"
        "Ana Diaz,ana@example.com,yes,3/2/2025,Signed at the counter\n"
        "Ben Ode,ben@example.com,no,,\n"
        "Cy Lo,cy@example.com,yes,,\n"
        "Di Ro,di@example.com,no,,\n",
    )
    record.mapping |= {
        "marketing_permission": "Email opt-in",
        "marketing_permission_date": "Opt-in date",
        "marketing_permission_source": "Opt-in source",
    }
    db.commit()
    with sql_statements(db.get_bind()) as sent:  # type: ignore[arg-type]
        run(db, record)

    ana = db.exec(select(Customer).where(Customer.email == "ana@example.com")).one()
    ben = db.exec(select(Customer).where(Customer.email == "ben@example.com")).one()
    today = utcnow().date()
    assert history(db, ana.id) == [  # type: ignore[arg-type]
        (
            "granted",
            "import",
            dt.date(2025, 3, 2),
            f"Signed at the counter (import {record.id}, line 2)",
        )
    ]
    assert history(db, ben.id) == []  # type: ignore[arg-type]  # a "no" from someone who never said yes
    assert history(db, kept.id)[-1] == (  # type: ignore[arg-type]
        "granted",
        "import",
        today,
        f"From the file (import {record.id}, line 4)",
    )
    assert history(db, leaving.id)[-1][:2] == ("withdrawn", "import")  # type: ignore[arg-type]
    assert ana.marketing_permission == MarketingPermission.GRANTED
    # The events are written with the batch in one statement, not one per row.
    assert sent.inserts_into("marketing_permission_event") == 1


def test_undoing_an_import_takes_its_permissions_back_in_the_history(
    db: Session, business_id: int
) -> None:
    cy = add(db, business_id, name="Cy Lo", email="cy@example.com")
    record = upload(
        db,
        business_id,
        "name,email,Email opt-in\nAna Diaz,ana@example.com,yes\nCy Lo,cy@example.com,yes\n",
    )
    run(db, record)

    imports.undo_import(session=db, record=record)
    db.commit()

    assert db.exec(select(Customer.email)).all() == ["cy@example.com"]
    assert [event[0] for event in history(db, cy.id)] == ["granted", "withdrawn"]  # type: ignore[arg-type]
    assert history(db, cy.id)[-1][3] == f"Import {record.id} undone"  # type: ignore[arg-type]
    db.refresh(cy)
    assert cy.marketing_permission == MarketingPermission.UNKNOWN


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty"),
        (b"\r\n\r\n", "The file is empty"),
        (b"PK\x03\x04rest-of-a-zip", "spreadsheet (.xlsx or .ods) renamed to .csv"),
        (b"Ana,ana@example.com\n", "The file has no header"),
        (b"\x00\x01\x02name", "not text"),
    ],
)
def test_a_file_that_is_not_a_customer_list_gets_an_exact_message(
    db: Session, business_id: int, content: bytes, message: str
) -> None:
    with pytest.raises(FileProblem) as refused:
        upload(db, business_id, content)

    assert message in refused.value.message


def test_a_huge_field_is_a_row_error_not_a_crash(db: Session, business_id: int) -> None:
    notes = "x" * 200_000  # over the csv module's default limit of 131,072
    record = upload(db, business_id, f'name,email,notes\nAna,ana@example.com,"{notes}"\n')

    counts = run(db, record)

    assert counts["rows_with_errors"] == 1
    assert outcomes(db, record)[2][1] == "Notes: Use at most 10000 characters (this has 200000)."


def test_a_repeated_header_and_ragged_rows_are_reported(db: Session, business_id: int) -> None:
    record = upload(
        db,
        business_id,
        "name,email\nAna,ana@example.com\nname,email\nBen,ben@example.com,surplus\nCy,cy@example.com\n",
    )

    counts = run(db, record)

    found = outcomes(db, record)
    assert counts["customers_created"] == 2
    assert found[3] == ("skipped", "The header line, repeated.")
    assert found[4][0] == "error" and "has 3 fields but the header names 2" in found[4][1]


def test_a_job_typed_in_twice_is_refused(db: Session, business_id: int) -> None:
    ana = add(db, business_id, name="Ana", email="ana@example.com")
    job = {"job_date": dt.date(2025, 1, 2), "description": "Tune-up", "amount_cents": 14900}
    services.add_job(session=db, customer=ana, data=dict(job))

    from referral.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        services.add_job(session=db, customer=ana, data=dict(job))


def test_another_businesss_import_is_not_found(db: Session, business_id: int) -> None:
    other = make_business(db, trade="plumbing")
    record = upload(db, other.id, "name,email\nZed,z@example.com\n")  # type: ignore[arg-type]

    from referral.errors import NotFound

    with pytest.raises(NotFound):
        imports.get_import(session=db, business_id=business_id, import_id=record.id)  # type: ignore[arg-type]


def test_an_edited_export_imports_back_as_updates(db: Session, business_id: int) -> None:
    ana = add(db, business_id, name="=1+2", email="ana@example.com")
    add(db, business_id, name="Ben", phone="+15125550102")
    exported = "".join(imports.export_customers_csv(session=db, business_id=business_id))
    assert exported.splitlines()[1] == "'=1+2,ana@example.com,,,,,,,,,unknown,,,"
    assert exported.splitlines()[2].startswith("Ben,,(512) 555-0102,")
    edited = exported.replace("ana@example.com,,", "ana@example.com,(512) 555-0199,", 1)

    counts = run(db, upload(db, business_id, edited))

    db.refresh(ana)
    assert counts["customers_created"] == 0
    assert counts["customers_updated"] + counts["customers_unchanged"] == 2
    assert (ana.name, ana.phone) == ("=1+2", "+15125550199")
    assert counts["customers_updated"] == 1


# --- What imports keep of a customer, and for how long -------------------------------------


def kept_file(db: Session, record: CustomerImport) -> bool:
    return (
        db.exec(select(CustomerImportFile).where(CustomerImportFile.import_id == record.id)).first()
        is not None
    )


def test_the_uploaded_file_is_deleted_once_the_import_has_run(
    db: Session, business_id: int
) -> None:
    record = upload(db, business_id, "name,email\nAna Diaz,ana@example.com\n")
    assert kept_file(db, record)

    run(db, record)

    assert not kept_file(db, record)
    assert outcomes(db, record)[2][0] == "created"  # what it did is still there


def test_erasing_a_customer_forgets_what_imports_kept_of_them(
    db: Session, business_id: int
) -> None:
    ana = add(db, business_id, name="Ana D.", email="ana@example.com", phone="+15125550101")
    updated = upload(db, business_id, "name,email\nAna Diaz,ana@example.com\n")
    run(db, updated)
    (row,) = db.exec(select(CustomerImportRow).where(CustomerImportRow.import_id == updated.id))
    assert row.previous == {"name": "Ana D."}
    # Two uploads not imported yet: one names her (phone formatted otherwise), one does not.
    naming_her = upload(db, business_id, "Client,Mobile\nA. Diaz,(512) 555-0101\n")
    not_her = upload(db, business_id, "name,email\nBen Ode,ben@example.com\n")
    db.commit()

    services.erase_customer(session=db, business_id=business_id, customer_id=ana.id or 0)
    db.commit()

    db.refresh(row)
    assert row.previous == {}
    assert not kept_file(db, naming_her) and kept_file(db, not_her)
    db.refresh(naming_her)
    assert naming_her.status == ImportStatus.FAILED
    assert "a customer in it was erased" in naming_her.message
    assert db.get(CustomerImport, not_her.id).status == ImportStatus.UPLOADED  # type: ignore[union-attr]


def test_housekeeping_deletes_abandoned_uploads_and_old_values_past_undo(
    app_context: None, db: Session, business_id: int
) -> None:
    ana = add(db, business_id, name="Ana D.", email="ana@example.com")
    finished = upload(db, business_id, "name,email\nAna Diaz,ana@example.com\n")
    run(db, finished)
    abandoned = upload(db, business_id, "name,email\nBen Ode,ben@example.com\n")
    recent = upload(db, business_id, "name,email\nCy Lee,cy@example.com\n")
    abandoned.created_at = utcnow() - imports.ABANDONED_AFTER - dt.timedelta(hours=1)
    db.commit()

    today = prune(db, now=utcnow())
    db.commit()

    assert today["abandoned_imports"] == 1 and today["import_rows_forgotten"] == 0
    assert db.get(CustomerImport, abandoned.id) is None
    assert db.get(CustomerImport, recent.id) is not None and kept_file(db, recent)
    later = utcnow() + imports.UNDO_WINDOW + dt.timedelta(hours=1)
    assert prune(db, now=later)["import_rows_forgotten"] == 1  # no longer undoable
    (row,) = db.exec(select(CustomerImportRow).where(CustomerImportRow.import_id == finished.id))
    assert row.previous == {} and row.customer_id == ana.id
    assert prune(db, now=later)["import_rows_forgotten"] == 0  # once


def test_housekeeping_reads_only_the_imports_it_still_has_to_clear(
    app_context: None, db: Session, business_id: int
) -> None:
    for n in range(3):
        add(db, business_id, name=f"Old {n}", email=f"c{n}@example.com")
        run(db, upload(db, business_id, f"name,email\nNew {n},c{n}@example.com\n"))
    later = utcnow() + imports.UNDO_WINDOW + dt.timedelta(hours=1)

    with sql_statements(db.get_bind()) as first:  # type: ignore[arg-type]
        cleared = prune(db, now=later)
    db.commit()
    with sql_statements(db.get_bind()) as second:  # type: ignore[arg-type]
        again = prune(db, now=later)

    assert cleared["import_rows_forgotten"] == 3 and again["import_rows_forgotten"] == 0
    # All three imports' rows in one statement, then nothing left to read or write.
    assert sum(sql.startswith("UPDATE customer_import_row") for sql in first) == 1
    assert not any("customer_import_row" in sql for sql in second)
    assert db.exec(select(CustomerImportRow.previous)).all() == [{}, {}, {}]


def test_erasure_reads_each_waiting_file_of_the_business_once_in_one_query(
    db: Session, business_id: int
) -> None:
    ana = add(db, business_id, name="Ana D.", email="Ana@Example.com", phone="+15125550101")
    in_utf16 = upload(db, business_id, "Client,E-mail\nA. Diaz,ANA@example.com\n".encode("utf-16"))
    in_cp1252 = upload(db, business_id, "Nom,Téléphone\nAña,512.555.0101\n".encode("cp1252"))
    not_her = upload(db, business_id, "name,email\nBen Ode,ben@example.com\n")
    imported = upload(db, business_id, "name,email\nCy Lo,cy@example.com\n")
    run(db, imported)  # its file is gone: nothing to read
    elsewhere = make_business(db)
    theirs = upload(db, elsewhere.id or 0, "name,email\nAna Diaz,ana@example.com\n")
    db.commit()

    with sql_statements(db.get_bind()) as sent:  # type: ignore[arg-type]
        services.erase_customer(session=db, business_id=business_id, customer_id=ana.id or 0)
    db.commit()

    reads = [sql for sql in sent if sql.startswith("SELECT") and "customer_import_file" in sql]
    assert len(reads) == 1
    assert not kept_file(db, in_utf16) and not kept_file(db, in_cp1252)
    assert kept_file(db, not_her) and kept_file(db, theirs)
    for record in (in_utf16, in_cp1252):
        db.refresh(record)
        assert record.status == ImportStatus.FAILED
