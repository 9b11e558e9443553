"""job.singleton: at most one queued job per recurring run

Workers that start at the same moment each queue the recurring runs they
find missing (the weekly settlement run, the daily housekeeping): without a
constraint both inserts land. A queued job may now carry a singleton name,
unique among queued jobs (a partial unique index), and the runs are queued
with INSERT ... ON CONFLICT DO NOTHING. The earliest queued job of each
recurring run takes its name; a duplicate queued before this runs once and
is not queued again.

Revision ID: c2d9e8f1a7b3
Revises: 8d3f4a6b9c21
Create Date: 2026-12-02 01:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'c2d9e8f1a7b3'
down_revision: str | None = '8d3f4a6b9c21'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUEUED_SINGLETON = "status = 'queued' AND singleton IS NOT NULL"
RECURRING = ('settlements.run', 'housekeeping.run')


def upgrade() -> None:
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('singleton', sa.String(length=64), nullable=True))
    op.execute(
        "UPDATE job SET singleton = kind WHERE id IN ("
        " SELECT min(id) FROM job WHERE status = 'queued'"
        f" AND kind IN ('{RECURRING[0]}', '{RECURRING[1]}') GROUP BY kind)"
    )
    op.create_index(
        'uq_job_queued_singleton',
        'job',
        ['singleton'],
        unique=True,
        postgresql_where=sa.text(QUEUED_SINGLETON),
        sqlite_where=sa.text(QUEUED_SINGLETON),
    )


def downgrade() -> None:
    op.drop_index(
        'uq_job_queued_singleton',
        table_name='job',
        postgresql_where=sa.text(QUEUED_SINGLETON),
        sqlite_where=sa.text(QUEUED_SINGLETON),
    )
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_column('singleton')
