"""After the soak: the database against what the stand-in and the clients saw.

Each check is a query whose answer must be empty or zero; a check that fails
says what it found. Together they say: every event the stand-in sent was
stored once and applied; every job ran; no money effect happened twice or
went missing; every referral is in the status its last answer gave it.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import stripe
from sqlalchemy import Connection, text

from bench.seed import REFERRAL_CLI, ROOT
from bench.soak_stripe import StripeDelivery
from bench.soak_users import Scenario
from referral.db import make_engine

UNFINISHED_SETTLEMENTS = "('open', 'waiting', 'processing', 'retry_scheduled')"
DUE_JOBS = "(status = 'running' OR (status = 'queued' AND run_at <= now()))"


@dataclass
class Verdict:
    checks: list[tuple[str, str]] = field(default_factory=list)  # (check, "" or what failed)
    figures: dict[str, Any] = field(default_factory=dict)

    def expect(self, check: str, problem: str = "") -> None:
        self.checks.append((check, problem))

    @property
    def problems(self) -> list[tuple[str, str]]:
        return [(check, problem) for check, problem in self.checks if problem]


def _rows(connection: Connection, sql: str, **params: Any) -> list[Any]:
    return list(connection.execute(text(sql), params))


def _scalar(connection: Connection, sql: str, **params: Any) -> Any:
    return connection.execute(text(sql), params).scalar_one()


def _ids(rows: list[Any], limit: int = 8) -> str:
    shown = ", ".join(str(tuple(row) if len(row) > 1 else row[0]) for row in rows[:limit])
    return f"{len(rows)}: {shown}{' ...' if len(rows) > limit else ''}"


def pending_work(database_url: str) -> dict[str, int]:
    """What is still moving: due or running jobs, unapplied events, unfinished settlements."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as c:
            return {
                "jobs due or running": _scalar(c, f"SELECT count(*) FROM job WHERE {DUE_JOBS}"),
                "events not applied": _scalar(
                    c, "SELECT count(*) FROM stripe_event WHERE status = 'received'"
                ),
                "settlements unfinished": _scalar(
                    c, f"SELECT count(*) FROM settlement WHERE status IN {UNFINISHED_SETTLEMENTS}"
                ),
            }
    finally:
        engine.dispose()


def verify(
    *,
    database_url: str,
    env: dict[str, str],
    delivery: StripeDelivery,
    standin_deliveries: list[dict[str, Any]],
    standin_client: stripe.StripeClient,
    scenario: Scenario,
    load_window: tuple[dt.datetime, dt.datetime],
) -> Verdict:
    verdict = Verdict()
    engine = make_engine(database_url)
    try:
        with engine.connect() as c:
            _webhooks(c, verdict, delivery, standin_deliveries)
            _jobs(c, verdict)
            _referrals(c, verdict, scenario)
            _commissions(c, verdict)
            _ledger(c, verdict)
            _settlements(c, verdict, standin_client)
            _figures(c, verdict, load_window)
    finally:
        engine.dispose()
    _reconcile(verdict, env)
    return verdict


def _webhooks(
    c: Connection, verdict: Verdict, delivery: StripeDelivery, standin: list[dict[str, Any]]
) -> None:
    sent = {d["event_id"] for d in standin}
    undelivered = [d["event_id"] for d in standin if not d["delivered"]]
    verdict.expect(
        "the stand-in delivered every event it sent (to Stripe's delivery relay)",
        f"{len(undelivered)} not delivered: {undelivered[:5]}" if undelivered else "",
    )
    relayed = set(delivery.events)
    # Connected accounts' events go straight to the app's Connect endpoint.
    to_relay = {d["event_id"] for d in standin if d.get("endpoint", "platform") == "platform"}
    verdict.expect(
        "the relay received exactly the platform events the stand-in sent",
        ""
        if relayed == to_relay
        else f"{len(to_relay - relayed)} missing, {len(relayed - to_relay)} extra",
    )
    stored = Counter(row[0] for row in _rows(c, "SELECT stripe_event_id FROM stripe_event"))
    missing = sorted(sent - set(stored))
    verdict.expect(
        "every event the stand-in sent is stored",
        f"{len(missing)} lost: {missing[:5]}" if missing else "",
    )
    twice = sorted(e for e, n in stored.items() if n > 1)
    verdict.expect("no event stored twice", f"{len(twice)}: {twice[:5]}" if twice else "")
    strangers = sorted(set(stored) - sent)
    verdict.expect(
        "no stored event the stand-in did not send",
        f"{len(strangers)}: {strangers[:5]}" if strangers else "",
    )
    stored_twice = [d.event_id for d in delivery.events.values() if d.new_answers > 1]
    verdict.expect(
        'the app answered "duplicate": false at most once per event',
        f"{len(stored_twice)}: {stored_twice[:5]}" if stored_twice else "",
    )
    unapplied = _rows(
        c,
        "SELECT e.stripe_event_id, e.status, j.status FROM stripe_event e "
        "LEFT JOIN job j ON j.id = e.job_id "
        "WHERE e.status = 'received' OR e.applied_at IS NULL OR j.status IS DISTINCT FROM 'done'",
    )
    verdict.expect(
        "every stored event applied (or ignored) by its job, which is done",
        _ids(unapplied) if unapplied else "",
    )
    apply_jobs = Counter(
        row[0]
        for row in _rows(
            c,
            "SELECT CAST(payload->>'event_id' AS integer) FROM job "
            "WHERE kind = 'stripe.apply_event'",
        )
    )
    doubled = [event for event, n in apply_jobs.items() if n > 1]
    verdict.expect(
        "one apply job per stored event",
        f"{len(doubled)} events with more: {doubled[:5]}" if doubled else "",
    )
    verdict.figures["webhooks"] = {
        "sent by the stand-in": len(sent),
        "stored": len(stored),
        "by status": dict(
            _rows(c, "SELECT status, count(*) FROM stripe_event GROUP BY status ORDER BY 1")
        ),
        "sent twice at once": sum(d.doubled for d in delivery.events.values()),
        "held back 1-4 s": sum(d.held for d in delivery.events.values()),
        "overtaken by a later event of the same object": delivery.overtaken(),
        "delivery attempts": sum(d.attempts for d in delivery.events.values()),
        "attempts refused (retried)": sum(d.failed_attempts for d in delivery.events.values()),
        "answered as duplicates": sum(d.duplicate_answers for d in delivery.events.values()),
        "apply jobs run more than once": _scalar(
            c, "SELECT count(*) FROM job WHERE kind = 'stripe.apply_event' AND attempts > 1"
        ),
    }


def _jobs(c: Connection, verdict: Verdict) -> None:
    dead = _rows(c, "SELECT id, kind FROM job WHERE status = 'dead' ORDER BY id")
    verdict.expect("no dead job", _ids(dead) if dead else "")
    stuck = _rows(c, f"SELECT id, kind, status FROM job WHERE {DUE_JOBS} ORDER BY id")
    verdict.expect("no job due, running or stuck", _ids(stuck) if stuck else "")
    runs = _scalar(
        c,
        "SELECT count(*) FROM job "
        "WHERE kind = 'settlements.run' AND status IN ('queued', 'running')",
    )
    verdict.expect(
        "exactly one weekly settlement run queued",
        "" if runs == 1 else f"{runs} queued",
    )
    emails, sent = _rows(
        c,
        "SELECT (SELECT count(*) FROM job WHERE kind = 'send_email' AND status = 'done'),"
        "       (SELECT count(*) FROM outbox_email)",
    )[0]
    verdict.expect(
        "one outbox email per email job done",
        "" if emails == sent else f"{emails} email jobs done, {sent} emails in the outbox",
    )
    verdict.figures["jobs"] = {
        f"{kind} {status}": n
        for kind, status, n in _rows(
            c, "SELECT kind, status, count(*) FROM job GROUP BY kind, status ORDER BY 1, 2"
        )
    }
    verdict.figures["jobs run again after a crash or failure"] = _scalar(
        c, "SELECT count(*) FROM job WHERE status = 'done' AND attempts > 1"
    )


def _referrals(c: Connection, verdict: Verdict, scenario: Scenario) -> None:
    in_db = {
        row[0]: row[1:] for row in _rows(c, "SELECT id, status, idempotency_key FROM referral")
    }
    answered = set(scenario.keys_answered.values())
    lost = sorted(answered - set(in_db))
    verdict.expect(
        "every referral the API answered with exists", f"{len(lost)}: {lost[:5]}" if lost else ""
    )
    by_key = Counter(key for _, key in in_db.values() if key)
    twice = [key for key, n in by_key.items() if n > 1]
    verdict.expect(
        "one referral per Idempotency-Key", f"{len(twice)}: {twice[:5]}" if twice else ""
    )
    known_keys = set(scenario.keys_answered) | set(scenario.keys_unanswered)
    unknown = [rid for rid, (_, key) in in_db.items() if key not in known_keys]
    verdict.expect(
        "no referral the clients did not send", f"{len(unknown)}: {unknown[:5]}" if unknown else ""
    )
    wrong = [
        (t.id, t.expected, in_db[t.id][0])
        for t in scenario.referrals.values()
        if t.expected is not None and t.id in in_db and in_db[t.id][0] != t.expected
    ]
    verdict.expect(
        "every referral in the status its last answer gave", _ids(wrong) if wrong else ""
    )
    verdict.figures["referrals"] = dict(
        _rows(c, "SELECT status, count(*) FROM referral GROUP BY status ORDER BY 1")
    )
    verdict.figures["referrals whose status is unknown to the client (an answer went missing)"] = (
        sum(t.expected is None for t in scenario.referrals.values())
    )
    unanswered_made = [key for key in scenario.keys_unanswered if key in by_key]
    verdict.figures["POSTs never answered / made anyway"] = (
        f"{len(scenario.keys_unanswered)} / {len(unanswered_made)}"
    )


def _commissions(c: Connection, verdict: Verdict) -> None:
    # What each referral should have earned, from the terms locked on it.
    wrong = _rows(
        c,
        """
        SELECT r.id, r.status, t.basis,
               count(m.id) FILTER (WHERE m.trigger = 'won') AS won,
               count(m.id) FILTER (WHERE m.trigger = 'accepted') AS accepted
        FROM referral r
        JOIN terms_version v ON v.id = r.terms_version_id
        JOIN proposal_terms t ON t.proposal_id = v.proposal_id AND t.referrer_id = r.sender_id
        LEFT JOIN commission m ON m.referral_id = r.id
        GROUP BY r.id, r.status, t.basis
        HAVING count(m.id) FILTER (WHERE m.trigger = 'won')
                 <> CASE WHEN r.status = 'won' AND t.basis <> 'flat_per_accepted' THEN 1 ELSE 0 END
            OR count(m.id) FILTER (WHERE m.trigger = 'accepted')
                 <> CASE WHEN r.status IN ('accepted', 'won', 'lost')
                          AND t.basis = 'flat_per_accepted' THEN 1 ELSE 0 END
        ORDER BY r.id
        """,
    )
    verdict.expect(
        "one commission per won referral (per accepted one on per-accepted terms), none otherwise",
        _ids(wrong) if wrong else "",
    )
    accruals = _rows(
        c,
        "SELECT m.id, count(t.id) FROM commission m LEFT JOIN ledger_transaction t "
        "ON t.commission_id = m.id AND t.kind = 'accrual' GROUP BY m.id, m.amount_cents "
        "HAVING count(t.id) <> CASE WHEN m.amount_cents = 0 THEN 0 ELSE 1 END",
    )
    verdict.expect(
        "one accrual transaction per (non-zero) commission", _ids(accruals) if accruals else ""
    )
    approvals = _rows(
        c,
        "SELECT m.id, m.status, count(t.id) FROM commission m LEFT JOIN ledger_transaction t "
        "ON t.commission_id = m.id AND t.kind = 'approval' "
        "GROUP BY m.id, m.status, m.amount_cents HAVING count(t.id) <> "
        "CASE WHEN m.status = 'pending' OR m.amount_cents = 0 THEN 0 ELSE 1 END",
    )
    verdict.expect(
        "one approval transaction per approved commission", _ids(approvals) if approvals else ""
    )
    paid_twice = _rows(
        c,
        "SELECT l.commission_id, count(*) FROM settlement_line l "
        "JOIN settlement s ON s.id = l.settlement_id WHERE s.status IN ('paid', 'netted') "
        "GROUP BY l.commission_id HAVING count(*) > 1",
    )
    verdict.expect("no commission in two paid settlements", _ids(paid_twice) if paid_twice else "")
    settling = _rows(
        c,
        "SELECT m.id, s.status FROM commission m JOIN settlement s ON s.id = m.settlement_id "
        f"WHERE m.status = 'settling' AND s.status NOT IN {UNFINISHED_SETTLEMENTS}",
    )
    verdict.expect(
        "no commission left settling in a finished settlement", _ids(settling) if settling else ""
    )
    verdict.figures["commissions"] = dict(
        _rows(c, "SELECT status, count(*) FROM commission GROUP BY status ORDER BY 1")
    )


def _ledger(c: Connection, verdict: Verdict) -> None:
    unbalanced = _rows(
        c,
        "SELECT transaction_id, sum(amount_cents) FROM ledger_entry "
        "GROUP BY transaction_id HAVING sum(amount_cents) <> 0",
    )
    verdict.expect("every ledger transaction sums to zero", _ids(unbalanced) if unbalanced else "")
    total = _scalar(c, "SELECT coalesce(sum(amount_cents), 0) FROM ledger_entry")
    verdict.expect("the ledger's balances sum to zero", "" if total == 0 else f"sum {total}")
    verdict.figures["ledger transactions"] = dict(
        _rows(c, "SELECT kind, count(*) FROM ledger_transaction GROUP BY kind ORDER BY 1")
    )


def _settlements(c: Connection, verdict: Verdict, standin: stripe.StripeClient) -> None:
    posted = Counter(
        {
            (settlement_id, kind): n
            for settlement_id, kind, n in _rows(
                c,
                "SELECT settlement_id, kind, count(*) FROM ledger_transaction "
                "WHERE settlement_id IS NOT NULL GROUP BY settlement_id, kind",
            )
        }
    )
    wrong = []
    for settlement_id, status, crossed in _rows(
        c, "SELECT id, status, creditor_owed_cents FROM settlement ORDER BY id"
    ):
        paid = status == "paid"
        expected = {
            # nothing to net when only one side owed: no zero entries are written
            "netting": int(status in ("paid", "netted") and crossed != 0),
            "settlement_charge": int(paid),
            "platform_fee": int(paid),
            "transfer": int(paid),
        }
        if any(posted[(settlement_id, kind)] != n for kind, n in expected.items()):
            wrong.append((settlement_id, status))
    verdict.expect(
        "a paid settlement has one netting, charge, fee and transfer transaction; others none",
        _ids(wrong) if wrong else "",
    )
    unfinished = _rows(
        c, f"SELECT id, status FROM settlement WHERE status IN {UNFINISHED_SETTLEMENTS}"
    )
    verdict.expect("no settlement left unfinished", _ids(unfinished) if unfinished else "")
    charged: dict[str, list[Any]] = {}
    for intent in standin.v1.payment_intents.list(params={"limit": 100}).auto_paging_iter():
        if intent.status == "succeeded" and "settlement_id" in intent.metadata:
            charged.setdefault(intent.metadata["settlement_id"], []).append(intent)
    twice = sorted(sid for sid, intents in charged.items() if len(intents) > 1)
    verdict.expect(
        "no settlement charged twice on the stand-in", f"{len(twice)}: {twice[:5]}" if twice else ""
    )
    paid = {
        str(row[0]): row[1:]
        for row in _rows(
            c, "SELECT id, net_cents, payment_intent_id FROM settlement WHERE status = 'paid'"
        )
    }
    unpaid = sorted(set(charged) - set(paid), key=int)
    verdict.expect(
        "every settlement charged on the stand-in is paid in the ledger",
        f"{len(unpaid)}: {unpaid[:5]}" if unpaid else "",
    )
    mismatched = [
        sid
        for sid, (net, intent_id) in paid.items()
        if [(i.id, i.amount) for i in charged.get(sid, [])] != [(intent_id, net)]
    ]
    verdict.expect(
        "every paid settlement matches its one charge (id and amount)",
        f"{len(mismatched)}: {mismatched[:5]}" if mismatched else "",
    )
    verdict.figures["settlements"] = dict(
        _rows(c, "SELECT status, count(*) FROM settlement GROUP BY status ORDER BY 1")
    )
    verdict.figures["charged on the stand-in"] = (
        f"{sum(len(i) for i in charged.values())} payments, "
        f"{sum(i.amount for intents in charged.values() for i in intents) / 100:,.2f} USD"
    )


def _figures(c: Connection, verdict: Verdict, window: tuple[dt.datetime, dt.datetime]) -> None:
    """The job workers' pace during the load: jobs finished, and how long a job
    due at once waited from being written to being done."""
    began, ended = window
    done = _scalar(
        c,
        "SELECT count(*) FROM job WHERE status = 'done' AND finished_at BETWEEN :a AND :b",
        a=began,
        b=ended,
    )
    latency = _rows(
        c,
        """
        SELECT percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (
                 ORDER BY extract(epoch FROM finished_at - created_at))
        FROM job
        WHERE status = 'done' AND created_at BETWEEN :a AND :b
          AND run_at <= created_at + interval '1 second'
        """,
        a=began,
        b=ended,
    )[0][0] or [0, 0, 0]
    applied = _rows(
        c,
        """
        SELECT percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (
                 ORDER BY extract(epoch FROM applied_at - created_at))
        FROM stripe_event WHERE created_at BETWEEN :a AND :b AND applied_at IS NOT NULL
        """,
        a=began,
        b=ended,
    )[0][0] or [0, 0, 0]
    seconds = (ended - began).total_seconds()
    verdict.figures["job workers during the load"] = {
        "jobs done": done,
        "jobs done per second": round(done / seconds, 1) if seconds else 0,
        "job written to done, p50/p95/p99 s": [round(x, 2) for x in latency],
        "webhook stored to applied, p50/p95/p99 s": [round(x, 2) for x in applied],
    }


def _reconcile(verdict: Verdict, env: dict[str, str]) -> None:
    """The app's own reconciliation of the ledger with the stand-in's charges and transfers."""
    completed = subprocess.run(
        [str(REFERRAL_CLI), "reconcile", "--since-days", "1"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    summary = (completed.stdout.strip().splitlines() or [completed.stderr.strip()])[0]
    verdict.expect(
        "`referral reconcile` finds no mismatch",
        "" if completed.returncode == 0 else (completed.stdout + completed.stderr)[-800:],
    )
    verdict.figures["reconcile"] = summary
