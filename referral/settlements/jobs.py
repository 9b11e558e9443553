"""Background work for settlements: the scheduled run, attempts and charges."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from referral.commissions.services import approve_due
from referral.jobs.queue import job_handler, recurring
from referral.settlements import reconcile, services
from referral.settlements.models import Settlement


@job_handler(services.RUN_SETTLEMENTS)
def run_settlements(session: Session, _payload: dict[str, Any]) -> None:
    """The scheduled run (weekly by default): approve what is due, settle, and
    queue the next run."""
    approve_due(session)
    services.build_settlements(session)
    services.schedule_next_run(session)


@job_handler(services.ATTEMPT_SETTLEMENT)
def attempt_settlement(session: Session, payload: dict[str, Any]) -> None:
    settlement = session.get(Settlement, payload["settlement_id"], with_for_update=True)
    if settlement is not None:
        services.attempt(session, settlement)


@job_handler(services.CHARGE_SETTLEMENT)
def charge_settlement(session: Session, payload: dict[str, Any]) -> None:
    settlement = session.get(Settlement, payload["settlement_id"], with_for_update=True)
    if settlement is not None:
        services.charge(session, settlement, payload["attempt"], payload.get("payment_method_id"))


@recurring
def keep_settlement_run_queued(session: Session) -> None:
    services.schedule_next_run(session)


@job_handler(reconcile.RECONCILE)
def run_reconciliation(session: Session, payload: dict[str, Any]) -> None:
    reconcile.run(session, payload["run_id"])
