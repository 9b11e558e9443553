"""follow-up rules and what they sent

A follow-up rule emails a business's customers N days after a job, at a
local hour; follow_up_send holds one row per (rule, job) so nothing is sent
twice.

Revision ID: d5e9f3a7c2b6
Revises: c4d8e2a6b1f5
Create Date: 2026-12-06 22:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d5e9f3a7c2b6"
down_revision: str | None = "c4d8e2a6b1f5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "follow_up_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("days_after", sa.Integer(), nullable=False),
        sa.Column("trade", sa.String(length=60), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("offer_ids", sa.JSON(), server_default="[]", nullable=False),
        sa.Column("send_hour", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "days_after >= 1 AND days_after <= 365",
            name=op.f("ck_follow_up_rule_days_after_range"),
        ),
        sa.CheckConstraint(
            "send_hour >= 0 AND send_hour <= 23", name=op.f("ck_follow_up_rule_send_hour_range")
        ),
        sa.ForeignKeyConstraint(
            ["business_id"], ["business.id"], name=op.f("fk_follow_up_rule_business_id_business")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_follow_up_rule_created_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_up_rule")),
    )
    op.create_index(
        "ix_follow_up_rule_business_id_id", "follow_up_rule", ["business_id", "id"], unique=False
    )
    op.create_table(
        "follow_up_send",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("customer_job_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.CheckConstraint(
            "status IN ('sent', 'skipped', 'failed')", name=op.f("ck_follow_up_send_status")
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["follow_up_rule.id"],
            name=op.f("fk_follow_up_send_rule_id_follow_up_rule"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_job_id"],
            ["customer_job.id"],
            name=op.f("fk_follow_up_send_customer_job_id_customer_job"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_follow_up_send_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_up_send")),
    )
    op.create_index(
        "uq_follow_up_send_rule_job", "follow_up_send", ["rule_id", "customer_job_id"], unique=True
    )
    op.create_index(
        "ix_follow_up_send_rule_status", "follow_up_send", ["rule_id", "status"], unique=False
    )
    op.create_index(
        "ix_follow_up_send_customer_id", "follow_up_send", ["customer_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_follow_up_send_customer_id", table_name="follow_up_send")
    op.drop_index("ix_follow_up_send_rule_status", table_name="follow_up_send")
    op.drop_index("uq_follow_up_send_rule_job", table_name="follow_up_send")
    op.drop_table("follow_up_send")
    op.drop_index("ix_follow_up_rule_business_id_id", table_name="follow_up_rule")
    op.drop_table("follow_up_rule")
