"""Three partners of HVAC owing it one commission each, and a bug striking one
of them, for the settlement isolation tests. (`hvac` and `plumber` are shared:
tests/support/businesses.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlmodel import Session

from referral.settlements import services
from referral.settlements.models import Settlement
from tests.support.factories import business, partner_up, percent, won_referral


@pytest.fixture
def three_partnerships(app: Flask, db: Session, hvac: Any) -> dict[str, int]:
    """HVAC earns 10% of one $1,000 job from each of three partners."""
    partnerships = {}
    with app.app_context():
        for name, trade, zip_code in (
            ("Drip Plumbing", "plumbing", "78704"),
            ("Bright Electric", "electrical", "78702"),
            ("Top Roofing", "roofing", "78703"),
        ):
            partner = business(db, name, trade, zip_code, f"owner@{trade}.example")
            partnership = partner_up(db, partner, hvac, a_pays=percent(1000), b_pays=percent(1000))
            won_referral(db, hvac, partner, 100_000)
            partnerships[trade] = partnership.id
        db.commit()
    return partnerships


@pytest.fixture
def electrical_fails(monkeypatch: pytest.MonkeyPatch, three_partnerships: dict[str, int]) -> Any:
    """A bug that strikes the electrician's settlement after its rows were written."""
    failing = three_partnerships["electrical"]
    enqueue = services.enqueue

    def enqueue_or_fail(session: Session, kind: str, payload: dict[str, Any], **kw: Any) -> Any:
        settlement = session.get(Settlement, payload.get("settlement_id"))
        if settlement is not None and settlement.partnership_id == failing:
            raise ZeroDivisionError("a bug in one partnership's settlement")
        return enqueue(session, kind, payload, **kw)

    monkeypatch.setattr(services, "enqueue", enqueue_or_fail)
    return monkeypatch
