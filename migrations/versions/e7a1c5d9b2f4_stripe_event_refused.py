"""stripe_event.status may be 'refused': an event in an API version the app does
not speak is kept, not applied, and shown to the operator

Revision ID: e7a1c5d9b2f4
Revises: e1a6c0a5e916
Create Date: 2026-12-02 16:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "e7a1c5d9b2f4"
down_revision: str | None = "e1a6c0a5e916"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ck_stripe_event_status_known"


def _statuses(*names: str) -> str:
    return "status IN (" + ", ".join(f"'{name}'" for name in names) + ")"


def upgrade() -> None:
    with op.batch_alter_table("stripe_event", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(NAME), type_="check")
        batch_op.create_check_constraint(
            op.f(NAME), _statuses("received", "applied", "ignored", "refused")
        )


def downgrade() -> None:
    op.execute("UPDATE stripe_event SET status = 'ignored' WHERE status = 'refused'")
    with op.batch_alter_table("stripe_event", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(NAME), type_="check")
        batch_op.create_check_constraint(op.f(NAME), _statuses("received", "applied", "ignored"))
