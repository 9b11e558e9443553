"""offers, opportunities, offer referrals; consent by a campaign click

A business's offers (its own back end, or published to its partners'
customers), the opportunities a customer's "yes" to an own offer opens, and the
referral a "yes" to a partner's offer made. Consent records learn the method
`campaign_click` and what carried the link (`source`).

Revision ID: b5d2e8f41c07
Revises: e7a1c5d92b40
Create Date: 2026-12-06 21:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from referral.append_only import append_only_ddl, drop_append_only_ddl

revision: str = "b5d2e8f41c07"
down_revision: str | None = "e7a1c5d92b40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_METHODS = ("email_link", "attested_phone", "attested_in_person", "attested_writing")
NEW_METHODS = (*OLD_METHODS, "campaign_click")
SOURCE_KINDS = "source_kind IN ('campaign', 'follow_up')"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _methods(methods: tuple[str, ...]) -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":  # the rebuilt table loses its triggers
        for statement in drop_append_only_ddl("consent_record", dialect):
            op.execute(statement)
    with op.batch_alter_table("consent_record", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_consent_record_method_known"), type_="check")
        batch_op.create_check_constraint("method_known", _in("method", methods))
    if dialect == "sqlite":
        for statement in append_only_ddl("consent_record", dialect):
            op.execute(statement)


def upgrade() -> None:
    op.create_table(
        "offer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("benefit", sa.String(length=200), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("zip_codes", sa.JSON(), nullable=False),
        sa.Column("radius_miles", sa.Integer(), nullable=True),
        sa.Column("created_by_user_id", sa.Integer(), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('partner', 'own')", name=op.f("ck_offer_kind_known")),
        sa.CheckConstraint(
            "valid_until IS NULL OR valid_until >= valid_from", name=op.f("ck_offer_valid_dates")
        ),
        sa.CheckConstraint(
            "radius_miles IS NULL OR (radius_miles >= 1 AND radius_miles <= 500)",
            name=op.f("ck_offer_radius_range"),
        ),
        sa.ForeignKeyConstraint(
            ["business_id"], ["business.id"], name=op.f("fk_offer_business_id_business")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_offer_created_by_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer")),
    )
    op.create_index(op.f("ix_offer_business_id"), "offer", ["business_id"], unique=False)
    op.create_table(
        "offer_referral",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("source_kind", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.CheckConstraint(SOURCE_KINDS, name=op.f("ck_offer_referral_source_kind_known")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_offer_referral_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["offer.id"], name=op.f("fk_offer_referral_offer_id_offer")
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referral.id"], name=op.f("fk_offer_referral_referral_id_referral")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer_referral")),
        sa.UniqueConstraint("offer_id", "customer_id", name="uq_offer_referral_once"),
    )
    for column in ("offer_id", "customer_id", "referral_id"):
        op.create_index(
            op.f(f"ix_offer_referral_{column}"), "offer_referral", [column], unique=False
        )
    op.create_table(
        "opportunity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("source_kind", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("won_on", sa.Date(), nullable=True),
        sa.Column("lost_reason", sa.Text(), nullable=False),
        sa.Column("customer_job_id", sa.Integer(), nullable=True),
        sa.Column("closed_by_user_id", sa.Integer(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'won', 'lost')", name=op.f("ck_opportunity_status_known")
        ),
        sa.CheckConstraint(SOURCE_KINDS, name=op.f("ck_opportunity_source_kind_known")),
        sa.CheckConstraint(
            "amount_cents IS NULL OR (amount_cents >= 0 AND amount_cents <= 10000000000)",
            name=op.f("ck_opportunity_amount_range"),
        ),
        sa.ForeignKeyConstraint(
            ["business_id"], ["business.id"], name=op.f("fk_opportunity_business_id_business")
        ),
        sa.ForeignKeyConstraint(
            ["closed_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_opportunity_closed_by_user_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_opportunity_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["customer_job_id"],
            ["customer_job.id"],
            name=op.f("fk_opportunity_customer_job_id_customer_job"),
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["offer.id"], name=op.f("fk_opportunity_offer_id_offer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opportunity")),
        sa.UniqueConstraint("offer_id", "customer_id", name="uq_opportunity_once"),
    )
    for column in ("business_id", "offer_id", "customer_id"):
        op.create_index(op.f(f"ix_opportunity_{column}"), "opportunity", [column], unique=False)
    with op.batch_alter_table("consent_record", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("source", sa.String(length=40), nullable=False, server_default="")
        )
    _methods(NEW_METHODS)


def downgrade() -> None:
    _methods(OLD_METHODS)
    with op.batch_alter_table("consent_record", schema=None) as batch_op:
        batch_op.drop_column("source")
    op.drop_table("opportunity")
    op.drop_table("offer_referral")
    op.drop_table("offer")
