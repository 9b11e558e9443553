"""commission.settled_cents, and the receiver's referrals by closing time

A commission keeps what its settlements moved (`settled_cents`), so pages and
the dashboard read one column instead of summing settlement lines per
commission; existing commissions get the sum of their lines in paid, netted or
disputed settlements. The covering indexes the dashboard reads commissions
from carry the new column, and a new index holds the receiver's referrals by
status and closing time (revenue per month and per partner).

Revision ID: 5b0e7c1d2a90
Revises: 31d4c2e6d925
Create Date: 2026-12-02 00:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '5b0e7c1d2a90'
down_revision: str | None = '31d4c2e6d925'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COMMISSION_INDEX_TAIL = ['amount_cents', 'id', 'trigger', 'referral_id', 'refunded_cents']


def _commission_indexes(batch_op, tail: list[str]) -> None:
    batch_op.drop_index('ix_commission_payer')
    batch_op.create_index('ix_commission_payer', ['payer_id', 'status', 'created_at', 'referrer_id', *tail], unique=False)
    batch_op.drop_index('ix_commission_referrer')
    batch_op.create_index('ix_commission_referrer', ['referrer_id', 'status', 'created_at', 'payer_id', *tail], unique=False)


def upgrade() -> None:
    with op.batch_alter_table('commission', schema=None) as batch_op:
        batch_op.add_column(sa.Column('settled_cents', sa.BigInteger(), server_default='0', nullable=False))
    op.execute(
        "UPDATE commission SET settled_cents = ("
        " SELECT coalesce(sum(settlement_line.amount_cents), 0) FROM settlement_line"
        " JOIN settlement ON settlement.id = settlement_line.settlement_id"
        " WHERE settlement_line.commission_id = commission.id"
        " AND settlement.status IN ('paid', 'netted', 'disputed'))"
        " WHERE EXISTS (SELECT 1 FROM settlement_line WHERE settlement_line.commission_id = commission.id)"
    )
    with op.batch_alter_table('commission', schema=None) as batch_op:
        _commission_indexes(batch_op, [*COMMISSION_INDEX_TAIL, 'settled_cents'])
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.create_index('ix_referral_receiver_closed', ['receiver_id', 'status', 'closed_at', 'sender_id', 'job_value_cents', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_index('ix_referral_receiver_closed')
    with op.batch_alter_table('commission', schema=None) as batch_op:
        _commission_indexes(batch_op, COMMISSION_INDEX_TAIL)
    with op.batch_alter_table('commission', schema=None) as batch_op:
        batch_op.drop_column('settled_cents')
