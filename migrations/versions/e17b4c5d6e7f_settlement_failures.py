"""settlement_failure: a partnership whose settlement could not be built

The settlement run built every partnership's settlement in one transaction,
so one partnership's bad data or a bug stopped the run for the whole
platform. Each partnership now settles in a savepoint of its own; one that
fails is recorded here with its reason (one open row per partnership),
retried by every run and resolved by the first that settles it.

Revision ID: e17b4c5d6e7f
Revises: e17a0b1c2d3e
Create Date: 2026-12-02 16:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'e17b4c5d6e7f'
down_revision: str | None = 'e17a0b1c2d3e'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'settlement_failure',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('partnership_id', sa.Integer(), nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('last_failed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['partnership_id'],
            ['partnership.id'],
            name=op.f('fk_settlement_failure_partnership_id_partnership'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_settlement_failure')),
    )
    op.create_index(
        'uq_settlement_failure_open',
        'settlement_failure',
        ['partnership_id'],
        unique=True,
        sqlite_where=sa.text('resolved_at IS NULL'),
        postgresql_where=sa.text('resolved_at IS NULL'),
    )


def downgrade() -> None:
    op.drop_index('uq_settlement_failure_open', table_name='settlement_failure')
    op.drop_table('settlement_failure')
