"""The durable job table: work written in the same transaction as its cause."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, Index, Integer, String, Text, text
from sqlmodel import Field

from referral.db import utcnow
from referral.tables import TableBase, utc_column

JOB_STATUSES = ("queued", "running", "done", "dead")
SINGLETON_QUEUED = "status = 'queued' AND singleton IS NOT NULL"


class Job(TableBase, table=True):
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'done', 'dead')", name="status"),
        Index("ix_job_claim", "status", "run_at"),
        # At most one queued job per singleton (a recurring run), however many
        # workers queue one at the same moment (jobs.queue.keep_scheduled).
        Index(
            "uq_job_queued_singleton",
            "singleton",
            unique=True,
            postgresql_where=text(SINGLETON_QUEUED),
            sqlite_where=text(SINGLETON_QUEUED),
        ),
    )
    kind: str = Field(sa_column=Column(String(64), nullable=False))
    singleton: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="queued", sa_column=Column(String(16), nullable=False))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    max_attempts: int = Field(default=8, sa_column=Column(Integer, nullable=False, default=8))
    run_at: dt.datetime = utc_column(default_factory=utcnow, nullable=False)
    lease_expires_at: dt.datetime | None = utc_column(default=None)
    last_error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    finished_at: dt.datetime | None = utc_column(default=None)
