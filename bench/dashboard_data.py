"""Generated history for the dashboard benchmark (bench/dashboard.py).

At scale 1: 5,000 businesses, 200,000 customers, 1,000,000 referrals, with
their partnerships, proposals, terms and terms versions, the commissions of
won (and, under per-accepted terms, accepted) referrals, settlements of most
older commissions, and the businesses' own customer jobs.

Activity is skewed as on a real marketplace: five busy businesses take part in
tens of thousands of referrals each, forty-five in a few thousand, and the rest
(log-normal) in a few hundred. A business partners with more businesses the
busier it is, busy businesses are everyone's partners, and a referral goes
from a sender (weighted by activity) to one of its partners (weighted too).

Rows are built once in Python with explicit ids, then written with COPY
(PostgreSQL) or `executemany` in one transaction (SQLite), into a schema made
by the migrations and with foreign keys on, so every constraint is checked.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import math
import random
import sqlite3
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, text
from sqlmodel import Session, select

from referral.businesses.models import Trade
from referral.businesses.taxonomy import seed_trades
from referral.consent.models import ConsentMethod
from referral.db import make_engine
from referral.domains import load_all_models
from referral.migrate import upgrade

BUSINESSES = 5_000
CUSTOMERS = 200_000
REFERRALS = 1_000_000
BUSY = (60_000, 45_000, 35_000, 25_000, 20_000)  # referrals each takes part in, at scale 1
MIDDLE = (45, 2_000, 6_000)  # how many businesses, and their range of referrals
HISTORY_DAYS = 730
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)

# status: share of referrals (before recent ones are moved back to open states)
STATUS_SHARES = {
    "awaiting_consent": 3,
    "declined_by_customer": 3,
    "sent": 4,
    "expired": 6,
    "declined": 8,
    "withdrawn": 3,
    "accepted": 5,
    "lost": 26,
    "won": 42,
}
URGENCIES = ("emergency", "this_week", "this_month", "flexible")
CONSENT_METHODS = tuple(ConsentMethod)
# The tables written, parents first.
TABLES = (
    "business",
    "user_account",
    "partnership",
    "partnership_proposal",
    "proposal_terms",
    "terms_version",
    "customer",
    "customer_job",
    "referral",
    "settlement",
    "commission",
    "settlement_line",
)


class Rows:
    """The rows of one table as tuples in the table's column order."""

    def __init__(self, table: Any, **defaults: Any) -> None:
        self.table = table
        self.columns = [c.name for c in table.columns]
        # Nullable columns are None, columns with a plain default take it (a
        # column added later with a default needs nothing here), then `defaults`.
        self.defaults = (
            {c.name: None for c in table.columns if c.nullable}
            | {
                c.name: c.default.arg
                for c in table.columns
                if c.default is not None and c.default.is_scalar
            }
            | defaults
        )
        self.rows: list[tuple[Any, ...]] = []

    def add(self, **values: Any) -> int:
        merged = self.defaults | values | {"id": len(self.rows) + 1}
        missing = [c for c in self.columns if c not in merged]
        if missing:
            raise KeyError(f"{self.table.name}: no value for {missing}")
        self.rows.append(tuple(merged[c] for c in self.columns))
        return len(self.rows)  # the new row's id: ids are 1..n in insertion order

    def set(self, row_id: int, **values: Any) -> None:
        """Change columns of a row added before."""
        row = list(self.rows[row_id - 1])
        for name, value in values.items():
            row[self.columns.index(name)] = value
        self.rows[row_id - 1] = tuple(row)


def _cumulative(weights: Iterable[float]) -> list[float]:
    return list(itertools.accumulate(weights))


def _pick(rng: random.Random, items: list[Any], cumulative: list[float]) -> Any:
    return items[bisect.bisect(cumulative, rng.random() * cumulative[-1])]


def activity_targets(rng: random.Random, scale: float) -> list[float]:
    """How many referrals each business takes part in (sent + received), roughly."""
    count = max(50, round(BUSINESSES * scale))
    busy = [b * scale for b in BUSY]
    middle_count, low, high = MIDDLE
    middle_count = max(2, round(middle_count * scale))
    middle = [rng.uniform(low, high) * scale for _ in range(middle_count)]
    rest_count = count - len(busy) - len(middle)
    rest = [rng.lognormvariate(0, 0.8) for _ in range(rest_count)]
    remaining = 2 * REFERRALS * scale - sum(busy) - sum(middle)
    factor = remaining / sum(rest)
    return busy + middle + [r * factor for r in rest]


def _receive_weights(targets: list[float], partners_of: dict[int, list[int]]) -> list[float]:
    """Weights for picking a sender's partner, fitted so that each business
    receives about half its target (busy businesses are everyone's partner, so
    weighting by the target alone would send them most referrals)."""
    weights = list(targets)
    for _ in range(30):
        totals = {s: sum(weights[p - 1] for p in partners) for s, partners in partners_of.items()}
        reach = [0.0] * len(targets)  # per business: sum over its partners of send/total
        for s, partners in partners_of.items():
            share = targets[s - 1] / totals[s]
            for p in partners:
                reach[p - 1] += share
        weights = [t / r if r else 0.0 for t, r in zip(targets, reach, strict=True)]
    return weights


def build(scale: float, seed: int, now: dt.datetime, trade_ids: list[int]) -> dict[str, Rows]:
    rng = random.Random(seed)
    metadata = load_all_models()
    t = {name: metadata.tables[name] for name in TABLES}
    start = now - HISTORY_DAYS * DAY
    rows = {
        "business": Rows(t["business"], description="", phone="", website=""),
        "user_account": Rows(t["user_account"], role="owner", is_operator=False),
        "partnership": Rows(t["partnership"]),
        "partnership_proposal": Rows(
            t["partnership_proposal"], message="", decline_reason="", status="accepted"
        ),
        "proposal_terms": Rows(
            t["proposal_terms"], currency="USD", hold_days=14, response_window_hours=48
        ),
        "terms_version": Rows(t["terms_version"]),
        "customer": Rows(t["customer"], phone="", address="", zip_code="78701", notes=""),
        "customer_job": Rows(t["customer_job"], currency="USD"),
        "referral": Rows(
            t["referral"],
            need="A job for a partner",
            preferred_contact_time="",
            decline_reason="",
            currency="USD",
            refunded_cents=0,
        ),
        "settlement": Rows(
            t["settlement"], currency="USD", waiting_reason="", last_error="", refunded_cents=0
        ),
        "commission": Rows(t["commission"], currency="USD", settled_cents=0),
        "settlement_line": Rows(t["settlement_line"]),
    }

    # Businesses, busiest first (ids 1..5 are the busy ones), and their owners.
    targets = activity_targets(rng, scale)
    ids = list(range(1, len(targets) + 1))
    for business_id, _ in enumerate(targets, start=1):
        joined = start - rng.uniform(30, 400) * DAY
        rows["business"].add(
            created_at=joined,
            name=f"Business {business_id:05d}",
            trade_id=rng.choice(trade_ids),
            zip_code=f"{rng.randint(10000, 99999)}",
            latitude=rng.uniform(25, 48),
            longitude=rng.uniform(-123, -70),
            radius_miles=rng.randint(5, 60),
        )
        rows["user_account"].add(
            created_at=joined,
            business_id=business_id,
            email=f"owner{business_id}@bench.example",
            name=f"Owner {business_id}",
            password_hash="!bench",
            email_verified_at=joined,
        )
    owner_of = {b: b for b in ids}  # one user per business, same id

    # Partnerships: a business seeks about one partner per 25 referrals it
    # takes part in (3 to 800), picking partners weighted by their activity.
    cum_targets = _cumulative(targets)
    pairs: set[tuple[int, int]] = set()
    for business_id, target in zip(ids, targets, strict=True):
        wanted = min(800, max(3, round(target / 25)))
        for _ in range(max(1, wanted // 2 + 1)):
            other = _pick(rng, ids, cum_targets)
            if other != business_id:
                pairs.add((min(business_id, other), max(business_id, other)))
    partners_of: dict[int, list[int]] = defaultdict(list)
    partnership_of: dict[tuple[int, int], int] = {}
    # terms of each direction: (referrer, payer) -> (basis, rate_bps, flat_fee_cents, cap)
    terms: dict[tuple[int, int], tuple[str, int | None, int | None, int | None]] = {}
    # versions of each partnership: [(effective_at, terms_version_id), ...]
    versions: dict[int, list[tuple[dt.datetime, int]]] = {}
    for low, high in sorted(pairs):
        roll = rng.random()
        status = "active" if roll < 0.9 else "paused" if roll < 0.95 else "ended"
        created = start - rng.uniform(1, 60) * DAY
        activated = created + rng.uniform(1, 72) * HOUR
        proposer = rng.choice((low, high))
        responder = high if proposer == low else low
        pid = rows["partnership"].add(
            created_at=created,
            business_low_id=low,
            business_high_id=high,
            proposed_by_id=proposer,
            status=status,
            activated_at=activated,
            ended_at=now - rng.uniform(1, 30) * DAY if status == "ended" else None,
            updated_at=activated,
        )
        partnership_of[(low, high)] = pid
        partners_of[low].append(high)
        partners_of[high].append(low)
        versions[pid] = []
        amended = rng.random() < 0.2
        moments = [activated] + ([now - rng.uniform(60, 500) * DAY] if amended else [])
        for number, effective in enumerate(moments, start=1):
            proposal = rows["partnership_proposal"].add(
                created_at=effective - 2 * HOUR,
                partnership_id=pid,
                kind="initial" if number == 1 else "amendment",
                proposed_by_id=proposer,
                proposed_by_user_id=owner_of[proposer],
                responded_by_user_id=owner_of[responder],
                responded_at=effective,
            )
            for referrer, payer in ((low, high), (high, low)):
                basis_roll = rng.random()
                if basis_roll < 0.7:
                    deal = ("percent", rng.choice((500, 750, 1000, 1500)), None, None)
                elif basis_roll < 0.95:
                    deal = ("flat_per_won", None, rng.choice((5_000, 10_000, 15_000)), None)
                else:
                    deal = ("flat_per_accepted", None, rng.choice((2_500, 5_000)), None)
                if deal[0] == "percent" and rng.random() < 0.3:
                    deal = (*deal[:3], 50_000)
                terms[(referrer, payer)] = deal  # the last version's terms apply throughout
                rows["proposal_terms"].add(
                    created_at=effective - 2 * HOUR,
                    proposal_id=proposal,
                    referrer_id=referrer,
                    payer_id=payer,
                    basis=deal[0],
                    rate_bps=deal[1],
                    flat_fee_cents=deal[2],
                    cap_cents=deal[3],
                )
            version = rows["terms_version"].add(
                created_at=effective,
                partnership_id=pid,
                number=number,
                proposal_id=proposal,
                effective_at=effective,
            )
            versions[pid].append((effective, version))
        versions[pid].sort()

    # Customers: owned by businesses in proportion to their activity (at least 5).
    customer_count = max(len(ids) * 5, round(CUSTOMERS * scale))
    owners = [b for b in ids for _ in range(5)]
    owners += [_pick(rng, ids, cum_targets) for _ in range(customer_count - len(owners))]
    rng.shuffle(owners)  # customers arrive over time, all businesses interleaved
    customers_of: dict[int, list[int]] = defaultdict(list)
    for business_id in owners:
        added = start - rng.uniform(0, 365) * DAY
        erased = rng.random() < 0.02
        customer_id = rows["customer"].add(
            created_at=added,
            business_id=business_id,
            name="" if erased else f"Customer {len(rows['customer'].rows) + 1}",
            email="" if erased else f"c{len(rows['customer'].rows) + 1}@bench.example",
            erased_at=now - rng.uniform(1, 200) * DAY if erased else None,
            updated_at=None,
        )
        customers_of[business_id].append(customer_id)
        # The business's own jobs for this customer: sale #1, #2, #3...
        for _ in range(rng.choice((0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 4, 6))):
            day = (start + rng.uniform(-365, HISTORY_DAYS) * DAY).date()
            rows["customer_job"].add(
                created_at=min(now, dt.datetime.combine(day, dt.time(18), dt.UTC)),
                business_id=business_id,
                customer_id=customer_id,
                job_date=day,
                description="Job",
                amount_cents=round(rng.lognormvariate(10.3, 0.9)),
            )

    # Referrals, created over two years with growth (more recent, more of them),
    # written in order of creation as a live database would have them.
    referral_count = round(REFERRALS * scale)
    statuses = list(STATUS_SHARES)
    cum_status = _cumulative(STATUS_SHARES.values())
    receive_weights = _receive_weights(targets, partners_of)
    cum_partners = {
        b: _cumulative(receive_weights[p - 1] for p in partners)
        for b, partners in partners_of.items()
    }
    senders_cum = _cumulative(t if partners_of[b] else 0 for b, t in zip(ids, targets, strict=True))
    moments = sorted(
        start + HISTORY_DAYS * math.sqrt(rng.random()) * DAY for _ in range(referral_count)
    )
    referrals = rows["referral"]
    commission_seeds: list[tuple[Any, ...]] = []
    for created in moments:
        sender = _pick(rng, ids, senders_cum)
        receiver = _pick(rng, partners_of[sender], cum_partners[sender])
        pair = (min(sender, receiver), max(sender, receiver))
        pid = partnership_of[pair]
        effective = versions[pid]
        version = effective[0][1]
        for since, vid in effective:
            if since <= created:
                version = vid
        status = _pick(rng, statuses, cum_status)
        sent_at = accepted_at = closed_at = job_value = job_date = None
        if status not in ("awaiting_consent", "declined_by_customer"):
            sent_at = created + rng.uniform(0.05, 30) * HOUR
        if status in ("accepted", "won", "lost"):
            accepted_at = sent_at + rng.lognormvariate(2, 1) * HOUR
        if status in ("won", "lost"):
            closed_at = accepted_at + rng.uniform(1, 45) * DAY
        elif status == "declined_by_customer":
            closed_at = created + rng.uniform(1, 96) * HOUR
        elif status in ("declined", "expired", "withdrawn"):
            closed_at = sent_at + rng.uniform(1, 48) * HOUR
        # Too recent to have got that far: still open.
        if closed_at is not None and closed_at > now:
            closed_at = None
            status = "accepted" if accepted_at else "sent" if sent_at else "awaiting_consent"
        if accepted_at is not None and accepted_at > now:
            accepted_at = None
            status = "sent"
        if sent_at is not None and sent_at > now:
            sent_at = None
            status = "awaiting_consent"
        if status == "won":
            job_value = round(rng.lognormvariate(11, 1.0))
            job_date = closed_at.date()
        referral_id = referrals.add(
            created_at=created,
            sender_id=sender,
            receiver_id=receiver,
            partnership_id=pid,
            terms_version_id=version,
            customer_id=rng.choice(customers_of[sender]),
            created_by_user_id=owner_of[sender],
            urgency=rng.choice(URGENCIES),
            consent_method=rng.choice(CONSENT_METHODS),
            status=status,
            sent_at=sent_at,
            respond_by=sent_at + 48 * HOUR if sent_at else None,
            accepted_at=accepted_at,
            closed_at=closed_at,
            job_value_cents=job_value,
            job_date=job_date,
            updated_at=closed_at or accepted_at or sent_at,
        )
        basis = terms[(sender, receiver)][0]
        if status == "won" and basis != "flat_per_accepted":
            commission_seeds.append(
                ("won", referral_id, pid, version, sender, receiver, closed_at, job_value)
            )
        elif accepted_at is not None and basis == "flat_per_accepted":
            commission_seeds.append(
                ("accepted", referral_id, pid, version, sender, receiver, accepted_at, 0)
            )

    # Commissions: older ones mostly settled, per partnership and quarter.
    commissions = rows["commission"]
    to_settle: dict[tuple[int, int], list[tuple[int, int, int]]] = defaultdict(list)
    for trigger, referral_id, pid, version, referrer, payer, at, base in commission_seeds:
        basis, rate, fee, cap = terms[(referrer, payer)]
        refunded = 0
        if trigger == "won" and rng.random() < 0.05:
            refunded = rng.randint(1, base) if base else 0
        if refunded:  # as commissions.services.report_refund keeps it on both
            referrals.set(referral_id, refunded_cents=refunded)
        if basis == "percent":
            amount = (base - refunded) * rate // 10_000
            amount = min(amount, cap) if cap else amount
        else:
            amount = fee * (base - refunded) // base if base else fee
        hold_until = at + 14 * DAY
        age = now - at
        roll = rng.random()
        if age < 14 * DAY:
            status = "pending"
        elif roll < 0.04:
            status = "reversed"
        elif age < 60 * DAY or roll < 0.12:
            status = "approved"
        else:
            status = "paid"
        commission_id = commissions.add(
            created_at=at,
            referral_id=referral_id,
            partnership_id=pid,
            terms_version_id=version,
            referrer_id=referrer,
            payer_id=payer,
            trigger=trigger,
            basis=basis,
            rate_bps=rate,
            flat_fee_cents=fee,
            cap_cents=cap,
            base_cents=base,
            refunded_cents=refunded,
            amount_cents=amount,
            status=status,
            hold_until=hold_until,
            approved_at=hold_until if status in ("approved", "paid") else None,
            updated_at=hold_until if status != "pending" else None,
        )
        if status == "paid":
            quarter = (at.year * 12 + at.month - 1) // 3
            to_settle[(pid, quarter)].append((commission_id, payer, amount))

    settlements, lines = rows["settlement"], rows["settlement_line"]
    pair_of = {pid: pair for pair, pid in partnership_of.items()}
    for (pid, quarter), owed in sorted(to_settle.items()):
        low, high = pair_of[pid]
        low_owes = sum(a for _, payer, a in owed if payer == low)
        high_owes = sum(a for _, payer, a in owed if payer == high)
        debtor, creditor = (low, high) if low_owes >= high_owes else (high, low)
        debtor_owed, creditor_owed = max(low_owes, high_owes), min(low_owes, high_owes)
        net = debtor_owed - creditor_owed
        year, month = divmod(quarter * 3 + 3, 12)
        built = dt.datetime(year, month + 1, 5, 6, tzinfo=dt.UTC)
        built = min(built, now - DAY)
        status = "netted" if net == 0 else "disputed" if rng.random() < 0.01 else "paid"
        settlement_id = settlements.add(
            created_at=built,
            partnership_id=pid,
            debtor_id=debtor,
            creditor_id=creditor,
            debtor_owed_cents=debtor_owed,
            creditor_owed_cents=creditor_owed,
            net_cents=net,
            platform_fee_cents=net * 3 // 100,
            status=status,
            attempts=0 if net == 0 else 1,
            payment_intent_id=None if net == 0 else f"pi_bench_{pid}_{quarter}",
            charge_id=None if net == 0 else f"ch_bench_{pid}_{quarter}",
            paid_at=built + HOUR,
            updated_at=built + HOUR,
        )
        for commission_id, payer, amount in owed:
            lines.add(
                created_at=built,
                settlement_id=settlement_id,
                commission_id=commission_id,
                payer_id=payer,
                amount_cents=amount,
            )
            # Every status given here (paid, netted, disputed) counts as settled.
            commissions.set(commission_id, settlement_id=settlement_id, settled_cents=amount)
    return rows


def _sqlite_value(value: Any) -> Any:
    # As SQLAlchemy's SQLite dialect stores them (UTCDateTime: naive UTC).
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def write_sqlite(path: str, rows: dict[str, Rows]) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA foreign_keys=ON")
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute("PRAGMA cache_size=-400000")
    connection.execute("BEGIN")
    for name in TABLES:
        table = rows[name]
        placeholders = ", ".join("?" for _ in table.columns)
        statement = f"INSERT INTO {name} ({', '.join(table.columns)}) VALUES ({placeholders})"
        connection.executemany(statement, ([_sqlite_value(v) for v in row] for row in table.rows))
    violations = connection.execute("PRAGMA foreign_key_check").fetchmany(5)
    if violations:
        connection.execute("ROLLBACK")
        raise RuntimeError(f"foreign key violations: {violations}")
    connection.execute("COMMIT")
    connection.execute("ANALYZE")
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()


def write_postgresql(engine: Engine, rows: dict[str, Rows]) -> None:
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor:  # type: ignore[attr-defined]
            for name in TABLES:
                table = rows[name]
                columns = ", ".join(f'"{c}"' for c in table.columns)
                with cursor.copy(f"COPY {name} ({columns}) FROM STDIN") as copy:
                    for row in table.rows:
                        copy.write_row(row)
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'),"
                    f" (SELECT coalesce(max(id), 0) + 1 FROM {name}), false)"
                )
        raw.commit()
    finally:
        raw.close()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))


def prepare_schema(url: str) -> list[int]:
    """A fresh schema from the migrations, and the seeded trades' ids."""
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    upgrade(url, "head")
    engine = make_engine(url)
    with Session(engine) as session:
        seed_trades(session)
        session.commit()
        trade_ids = list(session.exec(select(Trade.id)))
    engine.dispose()
    return sorted(trade_ids)  # type: ignore[arg-type]
