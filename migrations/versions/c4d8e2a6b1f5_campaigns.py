"""campaigns and their recipients

A campaign is one message to a segment of a business's customers; its
recipients are chosen in one INSERT ... SELECT and sent by the job worker.

Revision ID: c4d8e2a6b1f5
Revises: b7c2e4f1a903
Create Date: 2026-12-06 21:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'c4d8e2a6b1f5'
down_revision: str | None = 'b7c2e4f1a903'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'campaign',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('business_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('subject', sa.String(length=200), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('segment', sa.JSON(), nullable=False),
        sa.Column('offer_ids', sa.JSON(), server_default='[]', nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('scheduled_for', sa.DateTime(timezone=True), nullable=True),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('recipients_total', sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('draft', 'scheduled', 'sending', 'paused', 'sent', 'cancelled')",
            name=op.f('ck_campaign_status'),
        ),
        sa.ForeignKeyConstraint(
            ['business_id'], ['business.id'], name=op.f('fk_campaign_business_id_business')
        ),
        sa.ForeignKeyConstraint(
            ['created_by_id'],
            ['user_account.id'],
            name=op.f('fk_campaign_created_by_id_user_account'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign')),
    )
    op.create_index('ix_campaign_business_id_id', 'campaign', ['business_id', 'id'], unique=False)
    op.create_table(
        'campaign_recipient',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('error', sa.String(length=300), nullable=False),
        sa.CheckConstraint(
            "status IN ('queued', 'sent', 'failed', 'skipped', 'cancelled')",
            name=op.f('ck_campaign_recipient_status'),
        ),
        sa.ForeignKeyConstraint(
            ['campaign_id'], ['campaign.id'], name=op.f('fk_campaign_recipient_campaign_id_campaign')
        ),
        sa.ForeignKeyConstraint(
            ['customer_id'], ['customer.id'], name=op.f('fk_campaign_recipient_customer_id_customer')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_recipient')),
    )
    op.create_index(
        'uq_campaign_recipient_customer',
        'campaign_recipient',
        ['campaign_id', 'customer_id'],
        unique=True,
    )
    op.create_index(
        'ix_campaign_recipient_campaign_status',
        'campaign_recipient',
        ['campaign_id', 'status', 'id'],
        unique=False,
    )
    op.create_index(
        'ix_campaign_recipient_customer_id', 'campaign_recipient', ['customer_id'], unique=False
    )


def downgrade() -> None:
    op.drop_index('ix_campaign_recipient_customer_id', table_name='campaign_recipient')
    op.drop_index('ix_campaign_recipient_campaign_status', table_name='campaign_recipient')
    op.drop_index('uq_campaign_recipient_customer', table_name='campaign_recipient')
    op.drop_table('campaign_recipient')
    op.drop_index('ix_campaign_business_id_id', table_name='campaign')
    op.drop_table('campaign')
