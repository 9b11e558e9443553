"""The dashboard tests' known history (tests/support/history.py)."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from tests.support.history import History, build_history


@pytest.fixture
def history(app, db: Session) -> History:  # type: ignore[no-untyped-def]
    with app.app_context():
        return build_history(db)
