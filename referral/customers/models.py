"""A business's customers and the jobs it did for them.

Customers hold personal data. They belong to one business; another business
sees them only through a consented referral. Erasure blanks the personal
fields and keeps the row (and so referral outcomes and money) pseudonymous.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlmodel import Field

from referral.money import MAX_JOB_CENTS
from referral.tables import TableBase, utc_column


class MarketingPermission(StrEnum):
    """Whether the business may email this customer its own offers (not referral consent)."""

    UNKNOWN = "unknown"
    GRANTED = "granted"
    REFUSED = "refused"


class Customer(TableBase, table=True):
    __table_args__ = (
        Index("ix_customer_business_email", "business_id", "email"),
        Index("ix_customer_business_phone", "business_id", "phone"),
        Index("ix_customer_business_external_id", "business_id", "external_id"),
        CheckConstraint(
            "marketing_permission IN ('unknown', 'granted', 'refused')",
            name="marketing_permission",
        ),
    )
    business_id: int = Field(
        sa_column=Column(Integer, ForeignKey("business.id"), nullable=False, index=True)
    )
    name: str = Field(sa_column=Column(String(120), nullable=False))
    email: str = Field(default="", sa_column=Column(String(254), nullable=False, default=""))
    phone: str = Field(default="", sa_column=Column(String(32), nullable=False, default=""))
    # Digits dialled after the number ("ext 3"): E.164 has no place for them.
    phone_extension: str = Field(
        default="", sa_column=Column(String(10), nullable=False, default="")
    )
    mobile: str = Field(default="", sa_column=Column(String(32), nullable=False, default=""))
    address: str = Field(default="", sa_column=Column(String(255), nullable=False, default=""))
    city: str = Field(default="", sa_column=Column(String(80), nullable=False, default=""))
    state: str = Field(default="", sa_column=Column(String(40), nullable=False, default=""))
    zip_code: str = Field(default="", sa_column=Column(String(5), nullable=False, default=""))
    notes: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # The customer's id in the tool the business imported it from.
    external_id: str = Field(default="", sa_column=Column(String(64), nullable=False, default=""))
    marketing_permission: str = Field(
        default=MarketingPermission.UNKNOWN,
        sa_column=Column(String(12), nullable=False, default=MarketingPermission.UNKNOWN),
    )
    marketing_permission_date: dt.date | None = Field(
        default=None, sa_column=Column(Date, nullable=True)
    )
    marketing_permission_source: str = Field(
        default="", sa_column=Column(String(120), nullable=False, default="")
    )
    erased_at: dt.datetime | None = utc_column(default=None)
    updated_at: dt.datetime | None = utc_column(default=None)

    @property
    def erased(self) -> bool:
        return self.erased_at is not None


# A job is the same job when the customer and its external id (an invoice or
# job number) are the same, or, without one, its date, value and description.
JOB_HAS_EXTERNAL_ID = "external_id <> ''"
JOB_WITHOUT_EXTERNAL_ID = "external_id = ''"


class CustomerJob(TableBase, table=True):
    """A job a business did for its customer: sale #1, #2, #3..."""

    __tablename__ = "customer_job"
    __table_args__ = (
        CheckConstraint("amount_cents >= 0", name="amount_not_negative"),
        CheckConstraint(f"amount_cents <= {MAX_JOB_CENTS}", name="amount_range"),
        Index(
            "uq_customer_job_external_id",
            "customer_id",
            "external_id",
            unique=True,
            postgresql_where=text(JOB_HAS_EXTERNAL_ID),
            sqlite_where=text(JOB_HAS_EXTERNAL_ID),
        ),
        Index(
            "uq_customer_job_same_job",
            "customer_id",
            "job_date",
            "amount_cents",
            "description",
            unique=True,
            postgresql_where=text(JOB_WITHOUT_EXTERNAL_ID),
            sqlite_where=text(JOB_WITHOUT_EXTERNAL_ID),
        ),
        # A business's jobs by date, with what customer lifetime value sums
        # (referral/analytics/lifetime.py) so it reads them from the index.
        Index(
            "ix_customer_job_business_date",
            "business_id",
            "job_date",
            "customer_id",
            "amount_cents",
            "id",
        ),
    )
    business_id: int = Field(sa_column=Column(Integer, ForeignKey("business.id"), nullable=False))
    customer_id: int = Field(
        sa_column=Column(Integer, ForeignKey("customer.id"), nullable=False, index=True)
    )
    job_date: dt.date = Field(sa_column=Column(Date, nullable=False))
    description: str = Field(sa_column=Column(String(500), nullable=False))
    amount_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(default="USD", sa_column=Column(String(3), nullable=False))
    external_id: str = Field(default="", sa_column=Column(String(64), nullable=False, default=""))
    trade: str = Field(default="", sa_column=Column(String(60), nullable=False, default=""))
    # The import that added it (undo removes it), or None when typed in.
    import_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("customer_import.id"), nullable=True, index=True),
    )


class ImportStatus(StrEnum):
    UPLOADED = "uploaded"  # being mapped and previewed
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    UNDONE = "undone"

    @property
    def open(self) -> bool:
        return self in OPEN_IMPORT_STATUSES


OPEN_IMPORT_STATUSES = (ImportStatus.UPLOADED, ImportStatus.QUEUED, ImportStatus.RUNNING)
OPEN_IMPORT = "status IN ('uploaded', 'queued', 'running')"


class CustomerImport(TableBase, table=True):
    """One file a business brought in: how it was read and mapped, what the
    user chose, and (once run) exactly what happened."""

    __tablename__ = "customer_import"
    __table_args__ = (
        CheckConstraint(
            "status IN ('uploaded', 'queued', 'running', 'done', 'failed', 'undone')",
            name="status",
        ),
        # The same file is imported once at a time: a second upload (another
        # staff member, a double submit) finds the first.
        Index(
            "uq_customer_import_open_file",
            "business_id",
            "content_sha256",
            unique=True,
            postgresql_where=text(OPEN_IMPORT),
            sqlite_where=text(OPEN_IMPORT),
        ),
    )
    business_id: int = Field(
        sa_column=Column(Integer, ForeignKey("business.id"), nullable=False, index=True)
    )
    user_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("user_account.id"), nullable=True)
    )
    filename: str = Field(sa_column=Column(String(255), nullable=False))
    size_bytes: int = Field(sa_column=Column(Integer, nullable=False))
    content_sha256: str = Field(sa_column=Column(String(64), nullable=False))
    encoding: str = Field(sa_column=Column(String(16), nullable=False))
    delimiter: str = Field(sa_column=Column(String(1), nullable=False))
    line_ending: str = Field(default="", sa_column=Column(String(8), nullable=False, default=""))
    # Referral field -> the file's column (header text).
    mapping: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # What the user decided in the preview: update policy, per-row choices.
    choices: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=ImportStatus.UPLOADED, sa_column=Column(String(16), nullable=False))
    rows_total: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    rows_done: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    # created, updated, unchanged, jobs_added, jobs_existing, skipped, errors
    counts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    message: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    started_at: dt.datetime | None = utc_column(default=None)
    finished_at: dt.datetime | None = utc_column(default=None)
    undone_at: dt.datetime | None = utc_column(default=None)


class CustomerImportFile(TableBase, table=True):
    """The uploaded bytes, kept apart so listing imports never loads them."""

    __tablename__ = "customer_import_file"
    import_id: int = Field(
        sa_column=Column(Integer, ForeignKey("customer_import.id"), nullable=False, unique=True)
    )
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class RowOutcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    ERROR = "error"


class CustomerImportRow(TableBase, table=True):
    """What one line of an import did (its outcome CSV, and what undo reverts)."""

    __tablename__ = "customer_import_row"
    __table_args__ = (Index("ix_customer_import_row_import_line", "import_id", "line"),)
    import_id: int = Field(
        sa_column=Column(Integer, ForeignKey("customer_import.id"), nullable=False)
    )
    line: int = Field(sa_column=Column(Integer, nullable=False))
    outcome: str = Field(sa_column=Column(String(12), nullable=False))
    customer_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    job_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    message: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # The customer's values before this row changed them (undo puts them back).
    previous: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


# --- Marketing email: permission history and the suppression list ----------------------------
# The rule that reads them is referral/customers/marketing.py.


class PermissionChange(StrEnum):
    """What happened to a customer's marketing permission."""

    GRANTED = "granted"
    WITHDRAWN = "withdrawn"
    REQUESTED = "requested"  # a double opt-in email was sent; nothing changes until confirmed


class PermissionSource(StrEnum):
    """How a change came about."""

    CUSTOMER_FORM = "customer_form"  # the checkbox when staff add the customer
    JOB_FORM = "job_form"  # the checkbox when staff record a job
    IMPORT = "import"  # a CSV column, with its date and how it was obtained
    DOUBLE_OPT_IN = "double_opt_in"  # the customer confirmed by the emailed link
    UNSUBSCRIBE = "unsubscribe"  # the customer's one-click unsubscribe
    HARD_BOUNCE = "hard_bounce"  # the mail server refused the address for good
    STAFF = "staff"  # staff recorded the customer's wish

    @property
    def label(self) -> str:
        return PERMISSION_SOURCE_LABELS[self]


PERMISSION_SOURCE_LABELS = {
    PermissionSource.CUSTOMER_FORM: "Checkbox on the customer form",
    PermissionSource.JOB_FORM: "Checkbox on the job form",
    PermissionSource.IMPORT: "Customer import",
    PermissionSource.DOUBLE_OPT_IN: "Confirmed by the customer (email link)",
    PermissionSource.UNSUBSCRIBE: "Unsubscribed by the customer",
    PermissionSource.HARD_BOUNCE: "The address bounced",
    PermissionSource.STAFF: "Recorded by staff",
}


class MarketingPermissionEvent(TableBase, table=True):
    """One change of a customer's marketing permission (append-only history)."""

    __tablename__ = "marketing_permission_event"
    __table_args__ = (
        CheckConstraint("change IN ('granted', 'withdrawn', 'requested')", name="change"),
        Index("ix_marketing_permission_event_customer", "customer_id", "id"),
        # Unsubscribes counted per campaign and follow-up rule (the dashboard).
        Index(
            "ix_marketing_permission_event_email",
            "business_id",
            "email_kind",
            "email_id",
        ),
    )
    business_id: int = Field(sa_column=Column(Integer, ForeignKey("business.id"), nullable=False))
    customer_id: int = Field(sa_column=Column(Integer, ForeignKey("customer.id"), nullable=False))
    change: str = Field(sa_column=Column(String(12), nullable=False))
    source: str = Field(sa_column=Column(String(20), nullable=False))
    # The day it was obtained (an import's date column), else the day it happened.
    occurred_on: dt.date = Field(sa_column=Column(Date, nullable=False))
    # How it was obtained, in the business's words ("signed at the counter").
    how: str = Field(default="", sa_column=Column(String(200), nullable=False, default=""))
    user_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("user_account.id"), nullable=True)
    )
    # An unsubscribe: the marketing email whose link it came from ("campaign"
    # or "follow_up" and its id), so each campaign and rule counts its own.
    email_kind: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    email_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))


class SuppressionReason(StrEnum):
    UNSUBSCRIBED = "unsubscribed"
    HARD_BOUNCE = "hard_bounce"


class MarketingSuppression(TableBase, table=True):
    """An address a business must not send marketing email to, whatever a
    later import or form says; only the customer's own opt-in lifts it. The
    address is kept (normalised) after the customer is erased: the list exists
    to honour their objection."""

    __tablename__ = "marketing_suppression"
    __table_args__ = (
        Index("uq_marketing_suppression_business_email", "business_id", "email", unique=True),
        CheckConstraint("reason IN ('unsubscribed', 'hard_bounce')", name="reason"),
    )
    business_id: int = Field(sa_column=Column(Integer, ForeignKey("business.id"), nullable=False))
    email: str = Field(sa_column=Column(String(254), nullable=False))
    reason: str = Field(sa_column=Column(String(16), nullable=False))
