"""business.time_zone: the zone a business's pages, CSV and emails show times in

Empty means "the zone of its ZIP code" (from the offline zipcodes data), so
existing businesses need no backfill and one that moves follows its ZIP.

Revision ID: e19a7c3d5b21
Revises: cbbdcd6f5a36
Create Date: 2026-12-02 16:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'e19a7c3d5b21'
down_revision: str | None = 'cbbdcd6f5a36'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('business') as batch:
        batch.add_column(
            sa.Column('time_zone', sa.String(length=64), nullable=False, server_default='')
        )


def downgrade() -> None:
    with op.batch_alter_table('business') as batch:
        batch.drop_column('time_zone')
