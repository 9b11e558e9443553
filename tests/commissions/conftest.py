"""An HVAC business and a plumber, partners; each test chooses the terms."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from tests.commissions.support import business


@pytest.fixture
def hvac(db: Session):  # type: ignore[no-untyped-def]
    return business(db, "Cool Air HVAC", "hvac", "78701", "alex@coolair.example")


@pytest.fixture
def plumber(db: Session):  # type: ignore[no-untyped-def]
    return business(db, "Drip Plumbing", "plumbing", "78704", "blair@drip.example")
