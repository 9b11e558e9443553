"""the marketing email an unsubscribe came from

An unsubscribe link names the campaign or follow-up rule whose email carried
it; the withdrawal event keeps that, so each counts its own unsubscribes.
Expand only: two nullable columns and an index.

Revision ID: b8f2c6e4a1d9
Revises: d5e9f3a7c2b6
Create Date: 2026-12-07 00:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b8f2c6e4a1d9"
down_revision: str | None = "d5e9f3a7c2b6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy: the table's append-only triggers stay).
    op.add_column(
        "marketing_permission_event",
        sa.Column("email_kind", sa.String(length=16), nullable=True),
    )
    op.add_column("marketing_permission_event", sa.Column("email_id", sa.Integer(), nullable=True))
    op.create_index(
        "ix_marketing_permission_event_email",
        "marketing_permission_event",
        ["business_id", "email_kind", "email_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_marketing_permission_event_email", table_name="marketing_permission_event")
    op.drop_column("marketing_permission_event", "email_id")
    op.drop_column("marketing_permission_event", "email_kind")
