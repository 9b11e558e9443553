"""marketing permission history, suppression list, business postal address

Marketing email (referral/customers/marketing.py) needs the history of each
customer's marketing permission (granted, withdrawn, a confirmation asked),
a per-business suppression list of normalised addresses that unsubscribes
and hard bounces fill and imports cannot empty, and the business's postal
address, which every marketing email shows (CAN-SPAM).

Revision ID: b7c2e4f1a903
Revises: b5d2e8f41c07
Create Date: 2026-12-06 21:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'b7c2e4f1a903'
down_revision: str | None = 'b5d2e8f41c07'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('business', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('postal_address', sa.String(length=300), nullable=False, server_default='')
        )
    op.create_table(
        'marketing_permission_event',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('business_id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('change', sa.String(length=12), nullable=False),
        sa.Column('source', sa.String(length=20), nullable=False),
        sa.Column('occurred_on', sa.Date(), nullable=False),
        sa.Column('how', sa.String(length=200), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "change IN ('granted', 'withdrawn', 'requested')",
            name=op.f('ck_marketing_permission_event_change'),
        ),
        sa.ForeignKeyConstraint(
            ['business_id'],
            ['business.id'],
            name=op.f('fk_marketing_permission_event_business_id_business'),
        ),
        sa.ForeignKeyConstraint(
            ['customer_id'],
            ['customer.id'],
            name=op.f('fk_marketing_permission_event_customer_id_customer'),
        ),
        sa.ForeignKeyConstraint(
            ['user_id'],
            ['user_account.id'],
            name=op.f('fk_marketing_permission_event_user_id_user_account'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_marketing_permission_event')),
    )
    op.create_index(
        'ix_marketing_permission_event_customer',
        'marketing_permission_event',
        ['customer_id', 'id'],
        unique=False,
    )
    op.create_table(
        'marketing_suppression',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('business_id', sa.Integer(), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('reason', sa.String(length=16), nullable=False),
        sa.CheckConstraint(
            "reason IN ('unsubscribed', 'hard_bounce')",
            name=op.f('ck_marketing_suppression_reason'),
        ),
        sa.ForeignKeyConstraint(
            ['business_id'],
            ['business.id'],
            name=op.f('fk_marketing_suppression_business_id_business'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_marketing_suppression')),
    )
    op.create_index(
        'uq_marketing_suppression_business_email',
        'marketing_suppression',
        ['business_id', 'email'],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index('uq_marketing_suppression_business_email', table_name='marketing_suppression')
    op.drop_table('marketing_suppression')
    op.drop_index('ix_marketing_permission_event_customer', table_name='marketing_permission_event')
    op.drop_table('marketing_permission_event')
    with op.batch_alter_table('business', schema=None) as batch_op:
        batch_op.drop_column('postal_address')
