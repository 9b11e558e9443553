"""referral.refunded_cents

What the receiver refunded of a won job is kept on the referral itself, as
well as on its won commission when there is one: a won job under terms
without a won commission (flat per accepted referral) had nowhere to keep it,
and the dashboard reads revenue net of refunds from the referral alone.
Existing referrals get their won commission's refunds. The covering indexes
the dashboard reads won jobs from carry the new column.

Revision ID: 8d3f4a6b9c21
Revises: 5b0e7c1d2a90
Create Date: 2026-12-02 01:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '8d3f4a6b9c21'
down_revision: str | None = '5b0e7c1d2a90'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SENDER_STATUS = ['sender_id', 'status', 'created_at', 'customer_id', 'job_date', 'closed_at', 'job_value_cents', 'receiver_id', 'id']
RECEIVER_CLOSED = ['receiver_id', 'status', 'closed_at', 'sender_id', 'job_value_cents', 'id']


def _indexes(batch_op, tail: list[str]) -> None:
    batch_op.drop_index('ix_referral_sender_status')
    batch_op.create_index('ix_referral_sender_status', [*SENDER_STATUS, *tail], unique=False)
    batch_op.drop_index('ix_referral_receiver_closed')
    batch_op.create_index('ix_referral_receiver_closed', [*RECEIVER_CLOSED, *tail], unique=False)


def upgrade() -> None:
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refunded_cents', sa.BigInteger(), server_default='0', nullable=False))
    op.execute(
        "UPDATE referral SET refunded_cents = ("
        " SELECT commission.refunded_cents FROM commission"
        " WHERE commission.referral_id = referral.id AND commission.\"trigger\" = 'won')"
        " WHERE EXISTS (SELECT 1 FROM commission WHERE commission.referral_id = referral.id"
        " AND commission.\"trigger\" = 'won' AND commission.refunded_cents > 0)"
    )
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.create_check_constraint(
            op.f('ck_referral_refund_range'),
            'refunded_cents >= 0 AND refunded_cents <= coalesce(job_value_cents, 0)',
        )
        _indexes(batch_op, ['refunded_cents'])


def downgrade() -> None:
    with op.batch_alter_table('referral', schema=None) as batch_op:
        _indexes(batch_op, [])
        batch_op.drop_constraint(op.f('ck_referral_refund_range'), type_='check')
        batch_op.drop_column('refunded_cents')
