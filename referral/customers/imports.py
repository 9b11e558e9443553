"""Importing a customer list: upload, map, preview, import, undo.

One pass over the file (`plan_import`) decides what every row does, the same
way for the preview and for the import itself, so the preview is what
happens. Rows are read streamed and matched in batches: customers by external
id, then email, then phone; a row that matches in a way that could be two
different people (the same phone with a different email) is a conflict the
user resolves, never a merge. A job is the same job when the customer and its
external id, or its date, value and description, are the same, so importing
a file again adds nothing.

The uploaded file is kept only while it is needed (until the import has run,
or ABANDONED_AFTER when it never runs), and what a row changed is kept only
while the import can be undone: a customer list is personal data, and
erasing a customer also removes them from both (`forget_customer`).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import phonenumbers
from sqlalchemy import (
    LargeBinary,
    any_,
    delete,
    func,
    insert,
    literal,
    select,
    text,
    union,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

from referral.customers import marketing, presets, reading
from referral.customers.models import (
    Customer,
    CustomerImport,
    CustomerImportFile,
    CustomerImportRow,
    CustomerJob,
    ImportStatus,
    MarketingPermissionEvent,
    RowOutcome,
)
from referral.customers.reading import CUSTOMER_FIELDS, FIELDS, FileProblem, Options
from referral.db import utcnow
from referral.errors import DomainError, NotFound, ValidationFailed
from referral.jobs.queue import enqueue
from referral.spreadsheet import csv_chunks, neutralised

BATCH_ROWS = 500
# Files with more rows than this are imported by the job worker.
BACKGROUND_ROWS = 2_000
# New customers and jobs are inserted this many to a statement: a batch's
# count varies, and a statement of a new length is parsed anew by the
# PostgreSQL driver (slowly, for thousands of placeholders); pages of one size
# repeat the same text.
INSERT_PAGE_ROWS = 100
PREVIEW_ROWS = 200  # rows shown in a preview (counts cover all of them)
UNDO_WINDOW = dt.timedelta(hours=24)
# An upload never imported is deleted (file and all) after this long.
ABANDONED_AFTER = dt.timedelta(days=7)
IMPORT_JOB = "customers.import"


class ImportConflict(DomainError):
    """The same file is already being imported (by this user or another)."""

    def __init__(self, message: str, existing: CustomerImport) -> None:
        super().__init__(message)
        self.existing = existing


# --- Upload -----------------------------------------------------------------------------


def upload_import(
    *, session: Session, business_id: int, user_id: int | None, filename: str, content: bytes
) -> CustomerImport:
    """Keep an uploaded file as an import to map and preview. FileProblem when
    it is not a CSV file; ImportConflict when the same file is already open."""
    if len(content) > reading.MAX_IMPORT_BYTES:
        raise FileProblem("The file is larger than 20 MB: split it and import the parts.")
    dialect = reading.sniff(content)
    digest = hashlib.sha256(content).hexdigest()
    _refuse_open_twin(session, business_id, digest)
    header = _header(content, dialect)
    preset = presets.detect_preset(header.columns)
    if preset:
        mapping = presets.mapping_for(presets.PRESETS[preset], header.columns)
    else:
        remembered = last_mapping(session=session, business_id=business_id)
        mapping = reading.propose_mapping(header.columns, remembered)
    record = CustomerImport(
        business_id=business_id,
        user_id=user_id,
        filename=(filename or "customers.csv")[-255:],
        size_bytes=len(content),
        content_sha256=digest,
        encoding=dialect.encoding,
        delimiter=dialect.delimiter,
        line_ending=dialect.line_ending,
        mapping=mapping,
        choices={"preset": preset},
    )
    try:
        with session.begin_nested():
            session.add(record)
            session.flush()
    except IntegrityError:  # another upload of the same file won the race
        _refuse_open_twin(session, business_id, digest)
        raise
    assert record.id is not None
    session.add(CustomerImportFile(import_id=record.id, content=content))
    session.flush()
    return record


def _refuse_open_twin(session: Session, business_id: int, digest: str) -> None:
    twin = (
        session.execute(
            select(CustomerImport).where(
                CustomerImport.business_id == business_id,
                CustomerImport.content_sha256 == digest,
                CustomerImport.status.in_([s.value for s in ImportStatus if s.open]),  # type: ignore[attr-defined]
            )
        )
        .scalars()
        .first()
    )
    if twin is not None:
        raise ImportConflict(
            f"This file is already being imported (import {twin.id}, started "
            f"{twin.created_at:%Y-%m-%d %H:%M} UTC): continue or finish that one.",
            twin,
        )


def last_mapping(*, session: Session, business_id: int) -> dict[str, str]:
    """The mapping of the business's last import that ran."""
    found = session.execute(
        select(CustomerImport.mapping)
        .where(
            CustomerImport.business_id == business_id,
            CustomerImport.status.in_((ImportStatus.DONE, ImportStatus.UNDONE)),  # type: ignore[attr-defined]
        )
        .order_by(CustomerImport.id.desc())  # type: ignore[union-attr]
        .limit(1)
    ).scalar()
    return dict(found or {})


def get_import(*, session: Session, business_id: int, import_id: int) -> CustomerImport:
    """The business's own import; NotFound for anyone else's."""
    record = session.get(CustomerImport, import_id)
    if record is None or record.business_id != business_id:
        raise NotFound("No such import.")
    return record


def imports_query(*, business_id: int) -> Any:
    return (
        select(CustomerImport)
        .where(CustomerImport.business_id == business_id)
        .order_by(CustomerImport.id.desc())  # type: ignore[union-attr]
    )


# The uploaded file is read from the database this much at a time.
FILE_CHUNK_BYTES = 1024 * 1024


def stored_file(session: Session, record: CustomerImport) -> BinaryIO:
    """The uploaded file, read a chunk at a time. FileProblem when it is no longer kept."""
    found = session.execute(
        select(CustomerImportFile.id, func.length(CustomerImportFile.content)).where(
            CustomerImportFile.import_id == record.id
        )
    ).first()
    if found is None:
        raise FileProblem("The uploaded file is no longer kept: upload it again.")
    return io.BufferedReader(_StoredFile(session, found[0], found[1]))


class _StoredFile(io.RawIOBase):
    """The bytes of a CustomerImportFile, fetched FILE_CHUNK_BYTES at a time
    as they are read: a 20 MB upload is never in memory whole, nor its
    PostgreSQL hex text (twice the size). On SQLite through a blob handle,
    since SELECT substr(...) loads the whole blob to cut a part of it."""

    def __init__(self, session: Session, file_id: int, size: int) -> None:
        self.session, self.file_id, self.size = session, file_id, size
        self.offset = 0  # of the next chunk to fetch
        self.chunk = memoryview(b"")  # fetched, not yet read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self.chunk and self.offset < self.size:
            self.chunk = memoryview(self._fetch(min(FILE_CHUNK_BYTES, self.size - self.offset)))
            self.offset += len(self.chunk)
        size = min(len(buffer), len(self.chunk))
        buffer[:size] = self.chunk[:size]
        self.chunk = self.chunk[size:]
        return size

    def _fetch(self, size: int) -> bytes:
        if self.session.get_bind().dialect.name == "sqlite":
            driver = self.session.connection().connection.driver_connection
            with driver.blobopen(  # type: ignore[union-attr]
                CustomerImportFile.__tablename__, "content", self.file_id, readonly=True
            ) as blob:
                blob.seek(self.offset)
                return bytes(blob.read(size))
        return self.session.execute(
            select(
                func.substr(CustomerImportFile.content, self.offset + 1, size, type_=LargeBinary)
            ).where(CustomerImportFile.id == self.file_id)
        ).scalar_one()


def _dialect(record: CustomerImport) -> reading.Dialect:
    return reading.Dialect(record.encoding, record.delimiter, record.line_ending)


def _header(content: bytes | BinaryIO, dialect: reading.Dialect) -> reading.Header:
    return reading.read_header(next(reading.records(content, dialect), None))


@dataclass
class FileView:
    """The file as the mapping step shows it."""

    columns: list[str]
    samples: dict[str, list[str]]  # column -> first non-blank values
    rows: int


def describe_file(*, session: Session, record: CustomerImport, samples: int = 3) -> FileView:
    """Columns with sample values. FileProblem when it cannot be read as set."""
    stream = reading.records(stored_file(session, record), _dialect(record))
    header = reading.read_header(next(stream, None))
    found: dict[str, list[str]] = {column: [] for column in header.columns}
    rows = 0
    for rec in stream:
        rows += 1
        if rows <= 200:
            for column, cell in zip(header.columns, rec.cells, strict=False):
                if cell.strip() and len(found[column]) < samples:
                    found[column].append(cell.strip()[:80])
    return FileView(columns=header.columns, samples=found, rows=rows)


def set_reading(
    *,
    session: Session,
    record: CustomerImport,
    encoding: str,
    delimiter: str,
    mapping: dict[str, str],
    fix_zip_zeros: bool,
    preset: str | None = None,
    apply_preset: bool = True,
) -> dict[str, list[str]]:
    """Change how the file is read and mapped (until it is imported); errors
    by field, {} when the import can be previewed. With `preset` (a key of
    presets.PRESETS, or presets.OTHER for the file's own columns) the file
    is recorded as from that tool and, with `apply_preset`, the preset's
    mapping is applied first and `mapping` changes it field by field."""
    _still_open(record)
    errors: dict[str, list[str]] = {}
    if encoding not in reading.ENCODINGS:
        errors["encoding"] = ["Choose one of the encodings listed."]
    if delimiter not in reading.DELIMITERS:
        errors["delimiter"] = ["Choose comma, semicolon or tab."]
    if preset is not None and preset != presets.OTHER and preset not in presets.PRESETS:
        errors["preset"] = [
            f"Unknown preset {preset!r}: choose one of {', '.join(presets.PRESETS)}."
        ]
    if errors:
        return errors
    record.encoding, record.delimiter = encoding, delimiter
    header = _header(stored_file(session, record), _dialect(record))
    if preset is not None and apply_preset:
        chosen = (
            presets.mapping_for(presets.PRESETS[preset], header.columns)
            if preset
            else reading.propose_mapping(header.columns)
        )
        mapping = chosen | mapping
    if preset is not None:
        record.choices = {**record.choices, "preset": preset}
    mapping = {name: column for name, column in mapping.items() if column}
    errors = reading.check_mapping(mapping, header.columns)
    record.mapping = mapping
    record.choices = {**record.choices, "fix_zip_zeros": fix_zip_zeros}
    session.flush()
    return errors


def _still_open(record: CustomerImport) -> None:
    if record.status != ImportStatus.UPLOADED:
        raise DomainError("This import has already run: start a new one to change it.")


# --- Planning: what each row does ----------------------------------------------------------


@dataclass
class _FileCustomer:
    """A customer met earlier in the file."""

    line: int
    values: dict[str, Any]
    customer_id: int | None  # None: created by this import (known once written)
    new: dict[str, Any] | None = None  # the row to insert, until it is written
    # Job key -> line: the jobs this batch repeats or adds (FileCustomerIndex).
    jobs: dict[tuple[Any, ...], int] = field(default_factory=dict)
    indexed_as: int | None = None  # its row in the FileCustomerIndex, once stored


MatchKey = tuple[str, str]  # (name in MATCH_KEYS, value)


class FileCustomerIndex:
    """The customers met so far in the file, found by their match keys.

    A later line of the same customer has to be known as such ("same customer
    as line N", a conflict named by its line, a job already in the file), so
    every customer of the file is remembered to its end. Held as Python
    objects they cost the worker about 1.4 KB a row (140 MB for 100,000 rows),
    so they are kept in a private temporary SQLite database instead: SQLite
    holds it in its page cache (a few MB at most) and spills the rest to a
    file it unlinks at once, gone when the index is closed or the process
    dies. Only the current batch's customers are objects: `start_batch`
    stores what the last batch learned (values filled in by later lines, the
    id of a customer since written, jobs added) and loads the customers the
    new batch's keys name, with those of their jobs the batch repeats.
    """

    def __init__(self) -> None:
        # "": a temporary database on disk (not ":memory:", which would grow with the file).
        self._db = sqlite3.connect("", isolation_level=None)
        self._db.executescript(
            """
            PRAGMA journal_mode = OFF;
            PRAGMA synchronous = OFF;
            CREATE TABLE customer (
                id INTEGER PRIMARY KEY, line INTEGER, customer_id INTEGER, customer_values TEXT
            );
            CREATE TABLE match_key (key TEXT PRIMARY KEY, customer INTEGER) WITHOUT ROWID;
            CREATE TABLE job (
                customer INTEGER, job TEXT, line INTEGER, PRIMARY KEY (customer, job)
            ) WITHOUT ROWID;
            """
        )
        self._entries = 0  # ids given so far
        # The batch's customers: those loaded (with what the index holds of
        # each) and those first met on its lines.
        self._loaded: dict[int, tuple[_FileCustomer, int | None, str]] = {}
        self._added: list[_FileCustomer] = []
        self._by_key: dict[MatchKey, _FileCustomer] = {}
        self._claimed: list[tuple[MatchKey, _FileCustomer]] = []  # keys first met in this batch

    def start_batch(self, keys: set[MatchKey], jobs: set[tuple[Any, ...]]) -> None:
        """Store the last batch's customers; load those `keys` name, and of
        their jobs those among `jobs`."""
        self._store()
        self._loaded, self._added, self._by_key, self._claimed = {}, [], {}, []
        # A key is stored as its repr: exact for the str, int and date a key holds.
        wanted = {repr(key): key for key in keys}
        found = self._db.execute(
            "SELECT key, customer FROM match_key WHERE key IN (SELECT value FROM json_each(?))",
            (json.dumps(list(wanted)),),
        ).fetchall()
        if not found:
            return
        ids = json.dumps(sorted({customer for _, customer in found}))
        for row_id, line, customer_id, values in self._db.execute(
            "SELECT id, line, customer_id, customer_values FROM customer "
            "WHERE id IN (SELECT value FROM json_each(?))",
            (ids,),
        ):
            entry = _FileCustomer(
                line=line, values=_values(values), customer_id=customer_id, indexed_as=row_id
            )
            self._loaded[row_id] = (entry, customer_id, values)
        job_keys = {repr(job): job for job in jobs}
        for row_id, job, line in self._db.execute(
            "SELECT customer, job, line FROM job "
            "WHERE customer IN (SELECT value FROM json_each(?)) "
            "AND job IN (SELECT value FROM json_each(?))",
            (ids, json.dumps(list(job_keys))),
        ):
            self._loaded[row_id][0].jobs[job_keys[job]] = line
        self._by_key = {wanted[key]: self._loaded[customer][0] for key, customer in found}

    def get(self, key: MatchKey) -> _FileCustomer | None:
        """The customer of the file with this key (one of the batch's)."""
        return self._by_key.get(key)

    def add(self, entry: _FileCustomer, keys: list[MatchKey]) -> None:
        """A customer met on this batch's line; its keys not yet taken find it from now on."""
        self._entries += 1
        entry.indexed_as = self._entries
        self._added.append(entry)
        for key in keys:
            if key not in self._by_key:
                self._by_key[key] = entry
                self._claimed.append((key, entry))

    def _store(self) -> None:
        """Write what the batch learned: its new customers and keys, the
        loaded customers it changed, and the jobs it added."""
        changed = []
        for entry, customer_id, stored in self._loaded.values():
            values = _encoded(entry.values)
            if (entry.customer_id, values) != (customer_id, stored):
                changed.append((entry.customer_id, values, entry.indexed_as))
        db = self._db
        # Rows made as they are written (generators, not lists): thousands of
        # tuples alive at once would set off the garbage collector.
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO customer (id, line, customer_id, customer_values) VALUES (?, ?, ?, ?)",
            ((e.indexed_as, e.line, e.customer_id, _encoded(e.values)) for e in self._added),
        )
        db.executemany(
            "UPDATE customer SET customer_id = ?, customer_values = ? WHERE id = ?", changed
        )
        db.executemany(
            "INSERT INTO match_key (key, customer) VALUES (?, ?)",
            ((repr(key), entry.indexed_as) for key, entry in self._claimed),
        )
        loaded = [entry for entry, _, _ in self._loaded.values()]
        db.executemany(  # (the loaded jobs are there already)
            "INSERT OR IGNORE INTO job (customer, job, line) VALUES (?, ?, ?)",
            (
                (entry.indexed_as, repr(job), line)
                for entry in loaded + self._added
                for job, line in entry.jobs.items()
            ),
        )
        db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()


def _encoded(values: dict[str, Any]) -> str:
    return _VALUES_ENCODER.encode(values)


def _values(stored: str) -> dict[str, Any]:
    values = json.loads(stored)
    if values.get("marketing_permission_date"):  # the one date among CUSTOMER_FIELDS
        values["marketing_permission_date"] = dt.date.fromisoformat(
            values["marketing_permission_date"]
        )
    return values


@dataclass
class Change:
    field: str
    old: Any
    new: Any


@dataclass
class PlannedRow:
    line: int
    outcome: RowOutcome
    reason: str = ""  # for skipped rows, errors and conflicts
    conflict: bool = False
    customer: dict[str, Any] = field(default_factory=dict)
    customer_id: int | None = None  # the existing customer it matched
    same_as_line: int | None = None  # a customer earlier in the file
    changes: list[Change] = field(default_factory=list)
    kept: list[Change] = field(default_factory=list)  # changes the user chose to keep out
    job: dict[str, Any] | None = None
    job_outcome: str = ""  # "added", "existing", "in file"
    errors: dict[str, list[str]] = field(default_factory=dict)
    previous: dict[str, Any] = field(default_factory=dict)  # values an update replaced
    owner: _FileCustomer | None = field(default=None, repr=False)  # whose job it is

    @property
    def label(self) -> str:
        if self.conflict and self.outcome == RowOutcome.SKIPPED:
            return "Conflict"
        if self.same_as_line is not None and self.outcome == RowOutcome.UNCHANGED:
            return f"Same customer as line {self.same_as_line}"
        return {
            RowOutcome.CREATED: "New customer",
            RowOutcome.UPDATED: "Update",
            RowOutcome.UNCHANGED: "Existing customer, unchanged",
            RowOutcome.SKIPPED: "Skipped",
            RowOutcome.ERROR: "Error",
        }[self.outcome]


COUNTS = (
    "customers_created",
    "customers_updated",
    "customers_unchanged",
    "jobs_added",
    "jobs_already_there",
    "rows_skipped",
    "rows_with_errors",
)


@dataclass
class Plan:
    rows_total: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    shown: list[PlannedRow] = field(default_factory=list)

    def count(self, row: PlannedRow) -> None:
        self.rows_total += 1
        key = {
            RowOutcome.CREATED: "customers_created",
            RowOutcome.UPDATED: "customers_updated",
            RowOutcome.UNCHANGED: "customers_unchanged",
            RowOutcome.SKIPPED: "rows_skipped",
            RowOutcome.ERROR: "rows_with_errors",
        }[row.outcome]
        if row.same_as_line is None or row.outcome != RowOutcome.UNCHANGED:
            self.counts[key] += 1
        if row.job_outcome == "added":
            self.counts["jobs_added"] += 1
        elif row.job_outcome == "existing":
            self.counts["jobs_already_there"] += 1


# Every column a new customer or job row needs (inserted in bulk, not as objects).
NEW_CUSTOMER: dict[str, Any] = {
    name: "" for name in CUSTOMER_FIELDS if name not in ("marketing_permission_date",)
} | {
    "marketing_permission": "unknown",
    "marketing_permission_date": None,
    "erased_at": None,
    "updated_at": None,
}
NEW_JOB: dict[str, Any] = {"description": "", "external_id": "", "trade": "", "currency": "USD"}

MATCH_KEYS = (("external_id", "customer id"), ("email", "email"), ("phone", "phone"))


def _match_keys(customer: dict[str, Any]) -> list[MatchKey]:
    return [(name, customer[name]) for name, _ in MATCH_KEYS if customer.get(name)]


class Planner:
    """Decides each row's outcome, batch by batch; with `write`, also applies it."""

    def __init__(
        self, session: Session, record: CustomerImport, *, write: bool, resume_after: int = 0
    ) -> None:
        self.session = session
        self.record = record
        self.write = write
        self.resume_after = resume_after
        self.options = Options(
            delimiter=record.delimiter, fix_zip_zeros=bool(record.choices.get("fix_zip_zeros"))
        )
        self.keep_all = record.choices.get("updates") == "keep"
        self.keep_fields: dict[str, list[str]] = record.choices.get("keep", {})
        self.resolutions: dict[str, str] = record.choices.get("conflicts", {})
        self.seen = FileCustomerIndex()
        self.pending: list[_FileCustomer] = []  # new customers not yet written (this batch's)

    def __enter__(self) -> Planner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.seen.close()

    # Each batch: parse, look up existing customers and jobs in a few queries, decide.
    def plan_batch(self, parsed: list[reading.ParsedRow]) -> list[PlannedRow]:
        self.seen.start_batch(
            {key for row in parsed for key in _match_keys(row.customer)},
            {reading.job_key(row.job) for row in parsed if row.job is not None},
        )
        existing = self._existing_customers(parsed)
        decided = [self._decide(row, existing) for row in parsed]
        self._mark_existing_jobs(decided)
        return decided

    def _existing_customers(
        self, parsed: list[reading.ParsedRow]
    ) -> dict[tuple[str, str], Customer]:
        keys: dict[str, set[str]] = {name: set() for name, _ in MATCH_KEYS}
        for row in parsed:
            for name, _ in MATCH_KEYS:
                if row.customer.get(name):
                    keys[name].add(row.customer[name])
        # One SELECT per key, glued by UNION: each can use its (business_id,
        # key) index (an OR of the three cannot, but through a bitmap of all three).
        lookups = [
            select(Customer).where(
                Customer.business_id == self.record.business_id,
                Customer.erased_at.is_(None),  # type: ignore[union-attr]
                _one_of(self.session, getattr(Customer, name), sorted(values)),
            )
            for name, values in keys.items()
            if values
        ]
        if not lookups:
            return {}
        found: dict[tuple[str, str], Customer] = {}
        matched = self.session.execute(
            select(Customer).from_statement(union(*lookups) if len(lookups) > 1 else lookups[0])
        ).scalars()
        for customer in sorted(matched, key=lambda c: c.id or 0):
            for name, _ in MATCH_KEYS:
                value = getattr(customer, name)
                if value and value in keys[name]:
                    found.setdefault((name, value), customer)
        return found

    def _decide(
        self, parsed: reading.ParsedRow, existing: dict[tuple[str, str], Customer]
    ) -> PlannedRow:
        row = PlannedRow(line=parsed.line, outcome=RowOutcome.ERROR, customer=parsed.customer)
        row.job = parsed.job
        if parsed.errors:
            row.errors = parsed.errors
            row.reason = "; ".join(
                f"{FIELDS.get(name, name)}: {' '.join(messages)}"
                for name, messages in parsed.errors.items()
            )
            return row
        keys = _match_keys(parsed.customer)
        in_file = {id(entry): entry for k in keys if (entry := self.seen.get(k))}
        if in_file:
            return self._same_file(row, keys, list(in_file.values()))
        return self._against_database(row, keys, existing)

    def _resolution(self, row: PlannedRow) -> str:
        return self.resolutions.get(str(row.line), "skip")

    def _conflict(self, row: PlannedRow, reason: str) -> PlannedRow:
        row.conflict = True
        row.reason = reason
        resolution = self._resolution(row)
        if resolution == "new":
            row.outcome = RowOutcome.CREATED
            row.customer_id = None
            row.changes = []
            row.same_as_line = None
            return row
        if resolution == "merge" and (row.customer_id is not None or row.same_as_line is not None):
            return row  # the caller goes on as for a match
        row.outcome = RowOutcome.SKIPPED
        row.job_outcome = ""
        return row

    def _same_file(
        self, row: PlannedRow, keys: list[tuple[str, str]], earlier: list[_FileCustomer]
    ) -> PlannedRow:
        first = earlier[0]
        row.same_as_line = first.line
        row.customer_id = first.customer_id
        differing = [
            label
            for name, label in MATCH_KEYS
            if row.customer.get(name)
            and first.values.get(name) not in (None, "", row.customer[name])
        ]
        if len(earlier) > 1:
            lines = ", ".join(str(e.line) for e in earlier)
            self._conflict(row, f"Matches different customers on lines {lines}.")
        elif differing:
            self._conflict(
                row,
                f"Same {self._shared(row, first)} as line {first.line} but a different "
                f"{' and '.join(differing)}.",
            )
        else:
            others = [
                name
                for name in CUSTOMER_FIELDS
                if row.customer.get(name) not in (None, "")
                and first.values.get(name) not in (None, "", row.customer.get(name))
            ]
            if others:
                self._conflict(
                    row,
                    f"Same {self._shared(row, first)} as line {first.line} but a different "
                    f"{', '.join(FIELDS[n].lower() for n in others)}.",
                )
        if row.outcome == RowOutcome.SKIPPED:
            return row
        if row.outcome == RowOutcome.CREATED:  # resolved as a new customer
            return self._plan_job(row, self._remember(row, keys, new=True))
        row.outcome = RowOutcome.UNCHANGED
        if row.job is None and not row.conflict:
            row.outcome = RowOutcome.SKIPPED
            row.reason = f"Duplicate of line {first.line}."
            return row
        for name, value in row.customer.items():  # fill what the earlier line left blank
            first.values.setdefault(name, value)
        return self._plan_job(row, first)

    @staticmethod
    def _shared(row: PlannedRow, first: _FileCustomer) -> str:
        for name, label in MATCH_KEYS:
            if row.customer.get(name) and first.values.get(name) == row.customer[name]:
                return label
        return "customer"

    def _against_database(
        self,
        row: PlannedRow,
        keys: list[tuple[str, str]],
        existing: dict[tuple[str, str], Customer],
    ) -> PlannedRow:
        matches = [
            (name, existing[(name, value)]) for name, value in keys if (name, value) in existing
        ]
        if not matches:
            row.outcome = RowOutcome.CREATED
            return self._plan_job(row, self._remember(row, keys, new=True))
        by, customer = matches[0]
        row.customer_id = customer.id
        others = {c.id for _, c in matches} - {customer.id}
        label = dict(MATCH_KEYS)[by]
        if others:
            self._conflict(
                row,
                f"Its {label} is {customer.name}'s (customer {customer.id}), but its "
                f"{' and '.join(dict(MATCH_KEYS)[n] for n, c in matches if c.id != customer.id)} "
                f"belong to another customer.",
            )
        else:
            # Matched by phone (or email) while the file and the customer carry two
            # different emails (or customer ids): it could be two people.
            differing = [
                dict(MATCH_KEYS)[name]
                for name, _ in MATCH_KEYS[: [n for n, _ in MATCH_KEYS].index(by)]
                if row.customer.get(name)
                and getattr(customer, name) not in ("", row.customer[name])
            ]
            if differing:
                self._conflict(
                    row,
                    f"Same {label} as {customer.name} (customer {customer.id}) but a different "
                    f"{' and '.join(differing)}.",
                )
        if row.outcome == RowOutcome.SKIPPED:
            return row
        if row.outcome == RowOutcome.CREATED:
            return self._plan_job(row, self._remember(row, keys, new=True))
        row.changes = [
            Change(name, getattr(customer, name), value)
            for name, value in row.customer.items()
            if getattr(customer, name) != value
        ]
        keep = set(FIELDS) if self.keep_all else set(self.keep_fields.get(str(row.line), []))
        row.kept = [c for c in row.changes if c.field in keep]
        applied = [c for c in row.changes if c.field not in keep]
        row.outcome = RowOutcome.UPDATED if applied else RowOutcome.UNCHANGED
        entry = self._remember(row, keys, new=False, customer=customer)
        if self.write and applied and row.line > self.resume_after:
            row.previous = {c.field: _json(c.old) for c in applied}
            for change in applied:
                setattr(customer, change.field, change.new)
            customer.updated_at = utcnow()
        return self._plan_job(row, entry)

    def _remember(
        self,
        row: PlannedRow,
        keys: list[tuple[str, str]],
        *,
        new: bool,
        customer: Customer | None = None,
    ) -> _FileCustomer:
        values = dict(row.customer)
        if customer is not None:
            values = {name: getattr(customer, name) for name in CUSTOMER_FIELDS} | values
        entry = _FileCustomer(
            line=row.line, values=values, customer_id=None if new else row.customer_id
        )
        self.seen.add(entry, keys)
        if new and self.write and row.line > self.resume_after:
            entry.new = {
                **NEW_CUSTOMER,
                **row.customer,
                "business_id": self.record.business_id,
                "created_at": utcnow(),
            }
            self.pending.append(entry)
        elif new and self.write:  # written before the run was cut short: find it again
            name, value = keys[0]
            entry.customer_id = self.session.execute(
                select(Customer.id)
                .where(
                    Customer.business_id == self.record.business_id,
                    getattr(Customer, name) == value,
                )
                .order_by(Customer.id.desc())  # type: ignore[union-attr]
                .limit(1)
            ).scalar()
        return entry

    def _plan_job(self, row: PlannedRow, owner: _FileCustomer) -> PlannedRow:
        row.owner = owner
        if row.job is None:
            return row
        key = reading.job_key(row.job)
        if key in owner.jobs:
            row.job_outcome = "in file"
            if row.outcome == RowOutcome.UNCHANGED and row.same_as_line is not None:
                row.outcome = RowOutcome.SKIPPED
                row.reason = f"Duplicate of line {owner.jobs[key]}."
            return row
        owner.jobs[key] = row.line
        row.job_outcome = "added"  # unless it is already stored (_mark_existing_jobs)
        return row

    def _mark_existing_jobs(self, rows: list[PlannedRow]) -> None:
        adding = [r for r in rows if r.job_outcome == "added" and r.owner and r.owner.customer_id]
        if not adding:
            return
        ids = sorted({r.owner.customer_id for r in adding if r.owner})
        stored = {
            (job.customer_id, reading.job_key(job._asdict()))
            for job in self.session.execute(
                select(
                    CustomerJob.customer_id,
                    CustomerJob.external_id,
                    CustomerJob.job_date,
                    CustomerJob.amount_cents,
                    CustomerJob.description,
                ).where(_one_of(self.session, CustomerJob.customer_id, ids))
            )
        }
        for row in adding:
            assert row.owner is not None and row.job is not None
            if (row.owner.customer_id, reading.job_key(row.job)) in stored:
                row.job_outcome = "existing"

    def records(self) -> Iterator[list[reading.ParsedRow]]:
        """The file's rows, parsed, in batches."""
        stream = reading.records(stored_file(self.session, self.record), _dialect(self.record))
        header = reading.read_header(next(stream, None))
        columns = {column: i for i, column in enumerate(header.columns)}
        index = {name: columns[col] for name, col in self.record.mapping.items() if col in columns}
        batch: list[reading.ParsedRow] = []
        for count, rec in enumerate(stream, start=1):
            if count > reading.MAX_IMPORT_ROWS:
                raise FileProblem(f"Import at most {reading.MAX_IMPORT_ROWS:,} rows at a time.")
            batch.append(self._parse(rec, header, index))
            if len(batch) >= BATCH_ROWS:
                yield batch
                batch = []
        if batch:
            yield batch

    def _parse(
        self, rec: reading.Record, header: reading.Header, index: dict[str, int]
    ) -> reading.ParsedRow:
        if header.matches(rec.cells):
            parsed = reading.ParsedRow(line=rec.line)
            parsed.error("file", "The header line is repeated here (files joined together?).")
            parsed.errors["__skip__"] = []
            return parsed
        extra = [cell for cell in rec.cells[len(header.columns) :] if cell.strip()]
        cells = {name: rec.cells[i] if i < len(rec.cells) else "" for name, i in index.items()}
        parsed = reading.parse_row(rec.line, cells, self.options)
        if extra:
            parsed.error(
                "file",
                f"This line has {len(rec.cells)} fields but the header names "
                f"{len(header.columns)}: a delimiter inside a value that is not quoted?",
            )
        return parsed


def _one_of(session: Session, column: Any, values: list[Any]) -> Any:
    """`column IN (values)`; on PostgreSQL `column = ANY(:array)`, one
    parameter whatever the count, so the statement's text is the same every
    batch (the driver parses a long IN list's thousand placeholders anew each
    time it changes length: a third of an import's time)."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(literal(values, postgresql.ARRAY(column.type)))
    return column.in_(values)


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


# Made once: json.dumps(..., default=) makes an encoder a call.
_VALUES_ENCODER = json.JSONEncoder(default=_json)


def plan_import(*, session: Session, record: CustomerImport, shown: int = PREVIEW_ROWS) -> Plan:
    """What importing would do, row by row, without writing anything. The rows
    shown are those that need a look first (conflicts, errors, updates), then
    the rest, up to `shown`."""
    plan = Plan()
    attention: list[PlannedRow] = []
    others: list[PlannedRow] = []
    with Planner(session, record, write=False) as planner:
        for batch in planner.records():
            for row in planner.plan_batch(batch):
                _skip_repeated_header(row)
                plan.count(row)
                needs_look = (
                    row.conflict or row.errors or row.changes or row.outcome == RowOutcome.SKIPPED
                )
                target = attention if needs_look else others
                if len(target) < shown:
                    target.append(row)
    plan.shown = sorted((attention + others)[:shown], key=lambda r: r.line)
    record.rows_total = plan.rows_total
    return plan


def _skip_repeated_header(row: PlannedRow) -> None:
    if "__skip__" in row.errors:
        row.errors.pop("__skip__")
        row.outcome = RowOutcome.SKIPPED
        row.reason = "The header line, repeated."


def set_choices(
    *,
    session: Session,
    record: CustomerImport,
    updates: str,
    keep: dict[str, list[str]],
    conflicts: dict[str, str],
) -> None:
    """What the user chose in the preview: keep or overwrite changed fields
    (all, or per row and field), and how each conflict is resolved."""
    _still_open(record)
    if updates not in ("overwrite", "keep"):
        raise ValidationFailed(
            "Choose overwrite or keep.", errors={"updates": ["Choose overwrite or keep."]}
        )
    bad = [line for line, choice in conflicts.items() if choice not in ("skip", "new", "merge")]
    if bad:
        raise ValidationFailed(
            "Resolve each conflict with skip, new or merge.",
            errors={"conflicts": [f"Line {line}: choose skip, new or merge." for line in bad]},
        )
    record.choices = {
        **record.choices,
        "updates": updates,
        "keep": {line: [f for f in fields if f in FIELDS] for line, fields in keep.items()},
        "conflicts": conflicts,
    }
    session.flush()


# --- Running it -----------------------------------------------------------------------------


def start_import(
    *, session: Session, record: CustomerImport, in_background: bool | None = None
) -> CustomerImport:
    """Import the file as previewed: at once when it is small, else by the job
    worker. A second start of the same import does nothing. DomainError when
    the mapping is not complete."""
    if record.status != ImportStatus.UPLOADED:
        return record  # already queued, running or done
    columns = _header(stored_file(session, record), _dialect(record)).columns
    errors = reading.check_mapping(record.mapping, columns)
    if errors:
        raise ValidationFailed("Finish mapping the columns first.", errors=errors)
    started = session.execute(
        update(CustomerImport)
        .where(CustomerImport.id == record.id, CustomerImport.status == ImportStatus.UPLOADED)
        .values(status=ImportStatus.QUEUED)
    )
    if started.rowcount != 1:  # a double submit: the other request started it
        session.refresh(record)
        return record
    session.refresh(record)
    if in_background is None:
        in_background = record.rows_total > BACKGROUND_ROWS or record.size_bytes > 1024 * 1024
    if in_background:
        enqueue(session, IMPORT_JOB, {"import_id": record.id})
        session.flush()
        return record
    run_import(session=session, record=record, commit_batches=False)
    return record


def run_import(*, session: Session, record: CustomerImport, commit_batches: bool) -> None:
    """Write the import in batches. With `commit_batches` (the worker) each
    batch commits with the progress, and a run cut short resumes after the
    last committed row."""
    resume_after = (
        record.choices.get("resume_after", 0) if record.status == ImportStatus.RUNNING else 0
    )
    if record.status not in (ImportStatus.QUEUED, ImportStatus.RUNNING):
        return
    record.status = ImportStatus.RUNNING
    record.started_at = record.started_at or utcnow()
    if not resume_after:
        record.counts = dict.fromkeys(COUNTS, 0)
        record.rows_done = 0
    written = 0
    try:
        with Planner(session, record, write=True, resume_after=resume_after) as planner:
            for batch in planner.records():
                planned = planner.plan_batch(batch)
                if planned[-1].line <= resume_after:
                    continue
                rows = [r for r in planned if r.line > resume_after]
                _write_batch(session, record, planner, rows)
                written += 1
                if written & (written - 1) == 0:  # after batches 1, 2, 4, 8...
                    _refresh_statistics(session)
                if commit_batches:
                    record.choices = {**record.choices, "resume_after": planned[-1].line}
                    session.commit()
    except FileProblem as problem:
        record.status = ImportStatus.FAILED
        record.message = problem.message
    else:
        record.rows_total = record.rows_done
        record.status = ImportStatus.DONE
    record.finished_at = utcnow()
    # Run or failed, the file is not read again: the outcomes are kept per row.
    _delete_file(session, record.id or 0)
    session.flush()


def _refresh_statistics(session: Session) -> None:
    """On PostgreSQL, let the planner know how many customers and jobs the
    import has written so far. Planned as if the business had a handful of
    customers (autovacuum analyzes late, or not at all), matching a batch read
    every customer of the business through the business_id part of an index
    and compared each with the batch's values: every batch slower than the
    last, a 100,000-row import quadratic. Refreshed after batches 1, 2, 4, 8...
    so the statistics keep up at a cost that stays small; ANALYZE only samples."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE customer, customer_job"))


def _delete_file(session: Session, import_id: int) -> None:
    session.execute(delete(CustomerImportFile).where(CustomerImportFile.import_id == import_id))


def _write_batch(
    session: Session, record: CustomerImport, planner: Planner, rows: list[PlannedRow]
) -> None:
    session.flush()  # updates of existing customers
    if planner.pending:
        ids = session.execute(
            insert(Customer)
            .returning(Customer.id, sort_by_parameter_order=True)  # type: ignore[arg-type]
            .execution_options(insertmanyvalues_page_size=INSERT_PAGE_ROWS),
            [entry.new for entry in planner.pending],
        ).scalars()
        for entry, customer_id in zip(planner.pending, ids, strict=True):
            entry.customer_id, entry.new = customer_id, None
        planner.pending = []
    adding = [
        row
        for row in rows
        if row.job_outcome == "added" and row.owner is not None and row.owner.customer_id
    ]
    job_ids: dict[int, int] = {}
    if adding:
        now = utcnow()
        ids = session.execute(
            insert(CustomerJob)
            .returning(CustomerJob.id, sort_by_parameter_order=True)  # type: ignore[arg-type]
            .execution_options(insertmanyvalues_page_size=INSERT_PAGE_ROWS),
            [
                {
                    **NEW_JOB,
                    **(row.job or {}),
                    "business_id": record.business_id,
                    "customer_id": row.owner.customer_id,  # type: ignore[union-attr]
                    "import_id": record.id,
                    "created_at": now,
                }
                for row in adding
            ],
        ).scalars()
        job_ids = {row.line: job_id for row, job_id in zip(adding, ids, strict=True)}
    counts = Plan(counts=dict(record.counts))
    outcomes = []
    for row in rows:
        _skip_repeated_header(row)
        counts.count(row)
        customer_id = row.owner.customer_id if row.owner else row.customer_id
        outcomes.append(
            {
                "import_id": record.id,
                "line": row.line,
                "outcome": row.outcome.value,
                "customer_id": customer_id
                if row.outcome not in (RowOutcome.ERROR, RowOutcome.SKIPPED)
                else None,
                "job_id": job_ids.get(row.line),
                "message": outcome_message(row),
                "previous": row.previous,
                "created_at": utcnow(),
            }
        )
    session.execute(insert(CustomerImportRow), outcomes)
    marketing.record_events(session, _permission_events(record, rows))
    record.counts = counts.counts
    record.rows_done += len(rows)
    session.flush()


def _permission_events(record: CustomerImport, rows: list[PlannedRow]) -> list[dict[str, Any]]:
    """The marketing-permission history of the batch: one event per customer
    whose permission a row granted or withdrew, dated and described by the
    file's columns when it has them."""
    events = []
    for row in rows:
        if row.outcome == RowOutcome.CREATED:
            old, new = None, row.customer.get("marketing_permission")
        elif row.outcome == RowOutcome.UPDATED:
            applied = [
                c for c in row.changes if c.field == "marketing_permission" and c not in row.kept
            ]
            if not applied:
                continue
            old, new = applied[0].old, applied[0].new
        else:
            continue
        change = marketing.import_change(old, new) if new else None
        customer_id = row.owner.customer_id if row.owner else row.customer_id
        if change is None or customer_id is None:
            continue
        where = f"import {record.id}, line {row.line}"
        source = row.customer.get("marketing_permission_source")
        events.append(
            marketing.import_event(
                business_id=record.business_id,
                customer_id=customer_id,
                change=change,
                occurred_on=row.customer.get("marketing_permission_date"),
                how=f"{source} ({where})" if source else f"From the file ({where})",
                user_id=record.user_id,
            )
        )
    return events


def outcome_message(row: PlannedRow) -> str:
    parts: list[str] = []
    if row.reason:
        parts.append(row.reason)
    if row.changes and row.outcome == RowOutcome.UPDATED:
        applied = [c for c in row.changes if c not in row.kept]
        parts.append(
            "Changed " + ", ".join(FIELDS.get(c.field, c.field).lower() for c in applied) + "."
        )
    if row.kept:
        parts.append(
            "Kept " + ", ".join(FIELDS.get(c.field, c.field).lower() for c in row.kept) + "."
        )
    if row.job_outcome == "added":
        parts.append("Job added.")
    elif row.job_outcome == "existing":
        parts.append("Job already recorded.")
    elif row.job_outcome == "in file":
        parts.append("Job repeated in the file.")
    return " ".join(parts)


def outcomes_query(*, record: CustomerImport) -> Any:
    return (
        select(CustomerImportRow)
        .where(CustomerImportRow.import_id == record.id)
        .order_by(CustomerImportRow.line)
    )


def outcome_rows(*, session: Session, record: CustomerImport) -> Iterator[CustomerImportRow]:
    yield from session.execute(
        outcomes_query(record=record).execution_options(yield_per=1000)
    ).scalars()


def outcome_csv(*, session: Session, record: CustomerImport) -> Iterator[str]:
    """The outcome of every line, as CSV text in chunks."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["line", "outcome", "customer_id", "job_id", "message"])
    for row in outcome_rows(session=session, record=record):
        writer.writerow(
            [
                row.line,
                row.outcome,
                row.customer_id or "",
                row.job_id or "",
                neutralised(row.message),
            ]
        )
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


# --- Export: the same columns, so an edited export imports back as updates ---------------

EXPORT_FIELDS = tuple(name for name in FIELDS if name in CUSTOMER_FIELDS)


def _export_cell(customer: Customer, name: str) -> str:
    value = getattr(customer, name)
    if name in ("phone", "mobile") and value:
        parsed = phonenumbers.parse(value, "US")
        if phonenumbers.region_code_for_number(parsed) == "US":
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    if isinstance(value, dt.date):
        return value.isoformat()
    return neutralised(str(value or ""))


EXPORT_HEADER = tuple(FIELDS[name] for name in EXPORT_FIELDS)


def export_customer_rows(session: Session, business_id: int) -> Iterator[list[str]]:
    """The business's customers (not erased), oldest first, a batch at a time,
    in the import's columns; formula-looking cells are neutralised (and
    restored on import)."""
    customers = session.execute(
        select(Customer)
        .where(Customer.business_id == business_id, Customer.erased_at.is_(None))  # type: ignore[union-attr]
        .order_by(Customer.id)
        .execution_options(yield_per=1000)
    ).scalars()
    for customer in customers:
        yield [_export_cell(customer, name) for name in EXPORT_FIELDS]


def export_customers_csv(*, session: Session, business_id: int) -> Iterator[str]:
    """The business's customers as CSV text, in chunks (see export_customer_rows)."""
    return csv_chunks(EXPORT_HEADER, export_customer_rows(session, business_id))


# --- Undo -----------------------------------------------------------------------------------


UNDONE_WITH_IMPORT = ("customer_job", "customer_import_row", "marketing_permission_event")


def undo_blockers(*, session: Session, record: CustomerImport) -> str:
    """Why the import cannot be undone now ("" when it can)."""
    if record.status != ImportStatus.DONE or record.finished_at is None:
        return "Only a finished import can be undone."
    if utcnow() - record.finished_at > UNDO_WINDOW:
        return "An import can be undone for 24 hours only."
    touched = select(CustomerImportRow.customer_id).where(
        CustomerImportRow.import_id == record.id,
        CustomerImportRow.customer_id.is_not(None),  # type: ignore[union-attr]
    )
    for table in SQLModel.metadata.sorted_tables:
        # Its own jobs, outcomes and permission history are what undo removes.
        if table.name in UNDONE_WITH_IMPORT or "customer_id" not in table.c:
            continue
        if not any(fk.column.table.name == "customer" for fk in table.c.customer_id.foreign_keys):
            continue
        used = session.execute(
            select(func.count()).select_from(table).where(table.c.customer_id.in_(touched))
        ).scalar()
        if used:
            return (
                "Referrals, consents or leads have been made for customers this import "
                "created or changed, so it can no longer be undone."
            )
    return ""


def undo_import(*, session: Session, record: CustomerImport) -> CustomerImport:
    """Remove the jobs the import added and the customers it created, and put
    back what it changed. DomainError when it can no longer be undone."""
    blocker = undo_blockers(session=session, record=record)
    if blocker:
        raise DomainError(blocker)
    session.execute(delete(CustomerJob).where(CustomerJob.import_id == record.id))
    created = select(CustomerImportRow.customer_id).where(
        CustomerImportRow.import_id == record.id,
        CustomerImportRow.outcome == RowOutcome.CREATED,
    )
    still_used = select(CustomerJob.customer_id).where(CustomerJob.customer_id.in_(created))  # type: ignore[attr-defined]
    reverted: list[dict[str, Any]] = []
    for row in session.execute(
        select(CustomerImportRow)
        .where(
            CustomerImportRow.import_id == record.id,
            CustomerImportRow.outcome == RowOutcome.UPDATED,
        )
        .order_by(CustomerImportRow.line.desc())  # type: ignore[attr-defined]
    ).scalars():
        customer = session.get(Customer, row.customer_id)
        if customer is not None and customer.erased_at is None:
            permission = customer.marketing_permission
            for name, value in row.previous.items():
                if name == "marketing_permission_date" and value:
                    value = dt.date.fromisoformat(value)
                setattr(customer, name, value)
            customer.updated_at = utcnow()
            # The history is append-only: putting a permission back is an event too.
            change = marketing.import_change(permission, customer.marketing_permission)
            if change is not None:
                reverted.append(
                    marketing.import_event(
                        business_id=record.business_id,
                        customer_id=customer.id or 0,
                        change=change,
                        occurred_on=None,
                        how=f"Import {record.id} undone",
                        user_id=None,
                    )
                )
    marketing.record_events(session, reverted)
    session.flush()
    gone = select(Customer.id).where(
        Customer.id.in_(created),  # type: ignore[union-attr]
        Customer.business_id == record.business_id,
        Customer.id.not_in(still_used),  # type: ignore[union-attr]
    )
    session.execute(
        delete(MarketingPermissionEvent).where(
            MarketingPermissionEvent.customer_id.in_(gone)  # type: ignore[attr-defined]
        )
    )
    session.execute(
        delete(Customer).where(
            Customer.id.in_(created),  # type: ignore[union-attr]
            Customer.business_id == record.business_id,
            Customer.id.not_in(still_used),  # type: ignore[union-attr]
        )
    )
    record.status = ImportStatus.UNDONE
    record.undone_at = utcnow()
    session.flush()
    return record


# --- Privacy: erasure and retention ---------------------------------------------------------


def forget_customer(session: Session, customer: Customer) -> None:
    """Called by erasure before the customer's details are blanked: their old
    values kept for undo are cleared, and an upload not yet imported that
    names them (by email or phone) is deleted. A file being imported right now
    is left to finish; it is deleted when the run ends.

    Only the business's uploads still waiting with their file are read, in
    one query, a file at a time, and each is searched as bytes (no Python
    loop over its characters): erasing many customers stays cheap."""
    flag = CustomerImport.choices["previous_forgotten"].as_boolean()  # type: ignore[index]
    undoable = select(CustomerImport.id).where(
        CustomerImport.business_id == customer.business_id, flag.is_not(True)
    )
    session.execute(  # only updates keep old values, and only until prune_imports clears them
        update(CustomerImportRow)
        .where(
            CustomerImportRow.import_id.in_(undoable),  # type: ignore[attr-defined]
            CustomerImportRow.customer_id == customer.id,
            CustomerImportRow.outcome == RowOutcome.UPDATED,
        )
        .values(previous={})
    )
    needles = _identifying_text(customer)
    if not needles:
        return
    waiting = session.execute(
        select(CustomerImport.id, CustomerImport.encoding, CustomerImportFile.content)
        .join(CustomerImportFile, CustomerImportFile.import_id == CustomerImport.id)  # type: ignore[arg-type]
        .where(
            CustomerImport.business_id == customer.business_id,
            CustomerImport.status == ImportStatus.UPLOADED,
        )
        .execution_options(yield_per=1)  # one file in memory at a time
    )
    naming = [
        import_id
        for import_id, encoding, content in waiting
        if _names_any(content, encoding, needles)
    ]
    if not naming:
        return
    session.execute(delete(CustomerImportFile).where(CustomerImportFile.import_id.in_(naming)))  # type: ignore[attr-defined]
    session.execute(
        update(CustomerImport)
        .where(CustomerImport.id.in_(naming))  # type: ignore[union-attr]
        .values(
            status=ImportStatus.FAILED,
            message="The file was deleted because a customer in it was erased: upload it "
            "again to import the others.",
            finished_at=utcnow(),
        )
        .execution_options(synchronize_session="fetch")
    )
    session.flush()


def _identifying_text(customer: Customer) -> list[str]:
    """What finds the customer in a file whatever its formatting: the email in
    lower case, and each phone number's national digits."""
    needles = [customer.email.lower()] if customer.email else []
    for number in (customer.phone, customer.mobile):
        try:
            national = str(phonenumbers.parse(number, "US").national_number) if number else ""
        except phonenumbers.NumberParseException:
            national = ""
        if len(national) >= 7:
            needles.append(national)
    return needles


_NOT_DIGITS = bytes(b for b in range(256) if not chr(b).isdigit())


def _names_any(content: bytes, encoding: str, needles: list[str]) -> bool:
    """Whether the file holds one of the needles: the email anywhere (any
    case), a phone number's digits in its digits alone."""
    if encoding == "utf-16":  # the one encoding whose bytes are not ASCII's: made so once
        try:
            content = content.decode(encoding, errors="replace").encode("utf-8")
        except UnicodeError:  # chosen for a file without its byte-order mark
            pass
        encoding = "utf-8"
    lowered = content.lower()  # ASCII letters; a non-ASCII email is compared as typed
    digits = content.translate(None, _NOT_DIGITS)
    for needle in needles:
        wanted = needle.encode(encoding, errors="replace")
        if wanted in (digits if needle.isdigit() else lowered):
            return True
    return False


def prune_imports(session: Session, *, now: dt.datetime) -> dict[str, int]:
    """Housekeeping: uploads never imported are deleted after ABANDONED_AFTER;
    once an import can no longer be undone, the old values its rows kept for
    undo are cleared. The counts of each."""
    abandoned = list(
        session.execute(
            select(CustomerImport.id).where(
                CustomerImport.status == ImportStatus.UPLOADED,
                CustomerImport.created_at < now - ABANDONED_AFTER,
            )
        ).scalars()
    )
    if abandoned:
        session.execute(
            delete(CustomerImportFile).where(CustomerImportFile.import_id.in_(abandoned))  # type: ignore[attr-defined]
        )
        session.execute(delete(CustomerImport).where(CustomerImport.id.in_(abandoned)))  # type: ignore[union-attr]
    # Only the imports whose undo window has closed and whose old values are
    # still kept, chosen in SQL; their rows cleared in one statement.
    flag = CustomerImport.choices["previous_forgotten"].as_boolean()  # type: ignore[index]
    past_undo = list(
        session.execute(
            select(CustomerImport).where(
                CustomerImport.finished_at < now - UNDO_WINDOW,  # type: ignore[operator]
                flag.is_not(True),
            )
        ).scalars()
    )
    forgotten = 0
    if past_undo:
        forgotten = session.execute(
            update(CustomerImportRow)
            .where(
                CustomerImportRow.import_id.in_([r.id for r in past_undo]),  # type: ignore[attr-defined]
                CustomerImportRow.outcome == RowOutcome.UPDATED,  # only updates keep old values
            )
            .values(previous={})
        ).rowcount
    for record in past_undo:
        record.choices = {**record.choices, "previous_forgotten": True}
    session.flush()
    return {"abandoned_imports": len(abandoned), "import_rows_forgotten": forgotten}
