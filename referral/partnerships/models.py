"""Partnerships between two businesses, the terms they propose and the versions they agree.

A partnership's pair is stored ordered (lower business id first), so one
partial unique index keeps a single live partnership per pair whichever side
proposed it.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlmodel import Field

from referral.tables import TableBase, utc_column


class PartnershipStatus(StrEnum):
    """A partnership's state; the values are stored, so they never change."""

    PROPOSED = "proposed"
    ACTIVE = "active"
    PAUSED = "paused"
    ENDED = "ended"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class ProposalStatus(StrEnum):
    """A proposal's state; the values are stored, so they never change."""

    OPEN = "open"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    COUNTERED = "countered"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return self.value.capitalize()


LIVE_STATUSES = (PartnershipStatus.PROPOSED, PartnershipStatus.ACTIVE, PartnershipStatus.PAUSED)
MAX_RATE_BPS = 5000
MAX_FLAT_FEE_CENTS = 1_000_000
MAX_HOLD_DAYS = 90
MIN_RESPONSE_HOURS, MAX_RESPONSE_HOURS = 1, 336


def _ref(target: str, *, nullable: bool = False, index: bool = True) -> object:
    return Field(
        default=None if nullable else ...,
        sa_column=Column(Integer, ForeignKey(target), nullable=nullable, index=index),
    )


class Partnership(TableBase, table=True):
    __table_args__ = (
        CheckConstraint("business_low_id < business_high_id", name="ordered_pair"),
        CheckConstraint(
            "status IN ('proposed', 'active', 'paused', 'ended', 'declined', 'withdrawn')",
            name="status_known",
        ),
        Index(
            "uq_partnership_live_pair",
            "business_low_id",
            "business_high_id",
            unique=True,
            sqlite_where=text("status IN ('proposed', 'active', 'paused')"),
            postgresql_where=text("status IN ('proposed', 'active', 'paused')"),
        ),
    )
    business_low_id: int = _ref("business.id")
    business_high_id: int = _ref("business.id")
    proposed_by_id: int = _ref("business.id", index=False)
    status: str = Field(sa_column=Column(String(16), nullable=False))
    activated_at: dt.datetime | None = utc_column(default=None)
    ended_at: dt.datetime | None = utc_column(default=None)
    updated_at: dt.datetime | None = utc_column(default=None)

    def other_id(self, business_id: int) -> int:
        return (
            self.business_high_id if business_id == self.business_low_id else self.business_low_id
        )

    def includes(self, business_id: int) -> bool:
        return business_id in (self.business_low_id, self.business_high_id)


class Proposal(TableBase, table=True):
    """An offer of terms for both directions: the first proposal, a counter-proposal,
    or an amendment to an active agreement."""

    __tablename__ = "partnership_proposal"
    __table_args__ = (
        CheckConstraint("kind IN ('initial', 'counter', 'amendment')", name="kind_known"),
        CheckConstraint(
            "status IN ('open', 'accepted', 'declined', 'countered', 'withdrawn')",
            name="status_known",
        ),
        Index(
            "uq_partnership_proposal_one_open",
            "partnership_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )
    partnership_id: int = _ref("partnership.id")
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    proposed_by_id: int = _ref("business.id", index=False)
    proposed_by_user_id: int = _ref("user_account.id", index=False)
    message: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    responded_by_user_id: int | None = _ref("user_account.id", nullable=True, index=False)
    responded_at: dt.datetime | None = utc_column(default=None)
    decline_reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class ProposalTerms(TableBase, table=True):
    """What `payer` pays `referrer` for each referral `referrer` sends to `payer`."""

    __tablename__ = "proposal_terms"
    __table_args__ = (
        UniqueConstraint("proposal_id", "referrer_id", name="uq_proposal_terms_direction"),
        CheckConstraint("referrer_id <> payer_id", name="two_sides"),
        CheckConstraint(
            "basis IN ('percent', 'flat_per_won', 'flat_per_accepted')", name="basis_known"
        ),
        CheckConstraint(
            f"(basis = 'percent' AND rate_bps > 0 AND rate_bps <= {MAX_RATE_BPS}"
            " AND flat_fee_cents IS NULL)"
            f" OR (basis <> 'percent' AND flat_fee_cents > 0"
            f" AND flat_fee_cents <= {MAX_FLAT_FEE_CENTS} AND rate_bps IS NULL)",
            name="amount_fits_basis",
        ),
        CheckConstraint(
            f"cap_cents IS NULL OR (cap_cents > 0 AND cap_cents <= {MAX_FLAT_FEE_CENTS})",
            name="cap_range",
        ),
        CheckConstraint(f"hold_days >= 0 AND hold_days <= {MAX_HOLD_DAYS}", name="hold_range"),
        CheckConstraint(
            f"response_window_hours >= {MIN_RESPONSE_HOURS}"
            f" AND response_window_hours <= {MAX_RESPONSE_HOURS}",
            name="response_window_range",
        ),
    )
    proposal_id: int = _ref("partnership_proposal.id")
    referrer_id: int = _ref("business.id", index=False)
    payer_id: int = _ref("business.id", index=False)
    basis: str = Field(sa_column=Column(String(24), nullable=False))
    rate_bps: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    flat_fee_cents: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    cap_cents: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    currency: str = Field(default="USD", sa_column=Column(String(3), nullable=False))
    hold_days: int
    response_window_hours: int


class TermsVersion(TableBase, table=True):
    """Accepted terms: immutable. Version n+1 replaces n when both sides accept an amendment."""

    __tablename__ = "terms_version"
    __table_args__ = (UniqueConstraint("partnership_id", "number", name="uq_terms_version_number"),)
    partnership_id: int = _ref("partnership.id")
    number: int
    proposal_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("partnership_proposal.id"), nullable=False, unique=True
        )
    )
    effective_at: dt.datetime = utc_column(nullable=False)


class PartnershipEvent(TableBase, table=True):
    """The history both sides see: who did what, when."""

    __tablename__ = "partnership_event"
    partnership_id: int = _ref("partnership.id")
    business_id: int = _ref("business.id", index=False)
    user_id: int | None = _ref("user_account.id", nullable=True, index=False)
    action: str = Field(sa_column=Column(String(32), nullable=False))
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class PartnerBlock(TableBase, table=True):
    """`blocker` hid `blocked`: neither sees the other in discovery, nor can propose."""

    __tablename__ = "partner_block"
    __table_args__ = (
        UniqueConstraint("blocker_id", "blocked_id", name="uq_partner_block_pair"),
        CheckConstraint("blocker_id <> blocked_id", name="not_self"),
    )
    blocker_id: int = _ref("business.id")
    blocked_id: int = _ref("business.id")
