"""money bounds: a CHECK on every stored amount

Job values, refunds, commissions, settlement amounts and lead prices were
checked only for their sign, so one job value near 2^63 could be stored and
its commission overflowed every sum that met it (dashboards, exports, the
settlement run). Each amount now has an upper bound the input already
enforces (referral/money.py): job values and commissions at most $100m, lead
prices $1 to $100,000, settlement amounts at most 1,000 maximal jobs.

Before adding them, the upgrade counts the rows that would break each one and
refuses to run (naming table, rule and count) when there are any: an operator
decides what those rows should hold; nothing is changed silently.

Revision ID: e17a0b1c2d3e
Revises: 0e9d9ffa2ec4
Create Date: 2026-12-02 16:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'e17a0b1c2d3e'
down_revision: str | None = "0e9d9ffa2ec4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MAX_JOB = 100_000_000_00
MAX_SETTLEMENT = 1_000 * MAX_JOB
MIN_PRICE, MAX_PRICE = 100, 100_000_00

# (table, constraint name, rule)
CHECKS = [
    ('referral', 'value_range', f'job_value_cents IS NULL OR job_value_cents <= {MAX_JOB}'),
    ('commission', 'amount_range', f'amount_cents <= {MAX_JOB}'),
    ('commission', 'base_range', f'base_cents >= 0 AND base_cents <= {MAX_JOB}'),
    (
        'settlement',
        'amounts_range',
        f'net_cents <= {MAX_SETTLEMENT}'
        f' AND debtor_owed_cents BETWEEN -{MAX_SETTLEMENT} AND {MAX_SETTLEMENT}'
        f' AND creditor_owed_cents BETWEEN -{MAX_SETTLEMENT} AND {MAX_SETTLEMENT}'
        f' AND refunded_cents >= 0 AND refunded_cents <= {MAX_SETTLEMENT}',
    ),
    ('settlement_line', 'amount_range', f'amount_cents BETWEEN -{MAX_JOB} AND {MAX_JOB}'),
    ('lead', 'price_range', f'price_cents >= {MIN_PRICE} AND price_cents <= {MAX_PRICE}'),
    (
        'lead_purchase',
        'amounts_range',
        f'price_cents >= 0 AND price_cents <= {MAX_PRICE}'
        ' AND platform_fee_cents >= 0 AND platform_fee_cents <= price_cents',
    ),
    ('customer_job', 'amount_range', f'amount_cents <= {MAX_JOB}'),
]


def violations(connection: sa.Connection) -> list[str]:
    """One line per rule that existing rows break, with how many break it."""
    found = []
    for table, name, rule in CHECKS:
        count = connection.execute(
            sa.text(f'SELECT count(*) FROM {table} WHERE NOT ({rule})')
        ).scalar_one()
        if count:
            found.append(f'{table}: {count} row(s) break {name} ({rule})')
    return found


def upgrade() -> None:
    found = violations(op.get_bind())
    if found:
        raise RuntimeError(
            'Amounts out of range; fix these rows, then migrate again:\n  ' + '\n  '.join(found)
        )
    for table, name, rule in CHECKS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_check_constraint(op.f(f'ck_{table}_{name}'), rule)


def downgrade() -> None:
    for table, name, _rule in reversed(CHECKS):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f'ck_{table}_{name}'), type_='check')
