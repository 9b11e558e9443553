"""consent_record keeps the facts of an uploaded form; stripe_event.payload
may be pruned

Erasure deletes a customer's uploaded consent form: the record keeps its
SHA-256 (already), its size and its upload time as proof that it existed.
Housekeeping prunes the payload of applied Stripe events older than 400 days,
keeping their id, type, object and outcome, so the payload becomes nullable.

Revision ID: e1a6c0a5e916
Revises: c2d9e8f1a7b3
Create Date: 2026-12-02 16:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from referral.append_only import append_only_ddl, drop_append_only_ddl

revision: str = "e1a6c0a5e916"
down_revision: str | None = "c2d9e8f1a7b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN on both databases: the table (and its append-only
    # triggers) stays as it is.
    op.add_column("consent_record", sa.Column("evidence_size", sa.Integer(), nullable=True))
    op.add_column(
        "consent_record",
        sa.Column("evidence_uploaded_at", sa.DateTime(timezone=True), nullable=True),
    )
    with op.batch_alter_table("stripe_event", schema=None) as batch_op:
        batch_op.alter_column("payload", existing_type=sa.JSON(), nullable=True)


def downgrade() -> None:
    op.execute("UPDATE stripe_event SET payload = '{}' WHERE payload IS NULL")
    with op.batch_alter_table("stripe_event", schema=None) as batch_op:
        batch_op.alter_column("payload", existing_type=sa.JSON(), nullable=False)
    # SQLite rebuilds the table to drop a column, and its triggers go with it.
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table("consent_record", schema=None) as batch_op:
        batch_op.drop_column("evidence_uploaded_at")
        batch_op.drop_column("evidence_size")
    if dialect == "sqlite":
        for statement in drop_append_only_ddl("consent_record", dialect):
            op.execute(statement)
        for statement in append_only_ddl("consent_record", dialect):
            op.execute(statement)
