"""A figure that cannot be computed does not take the dashboard with it: it
shows as unavailable (the reason goes to the log), its CSV answers 503, and
every other figure and export is there."""

from __future__ import annotations

import logging

import pytest
from sqlmodel import Session

from referral.analytics import trends
from referral.auth.models import User
from tests.support.factories import sign_in


def _broken(*_args: object, **_kwargs: object) -> None:
    raise OverflowError("integer out of range")


def test_one_failing_figure_is_unavailable_and_the_rest_of_the_page_renders(
    app, db: Session, history, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(trends, "monthly", _broken)
    client = sign_in(app, db.get(User, history.hvac.user_id))

    with caplog.at_level(logging.ERROR, logger="referral.analytics.page"):
        response = client.get("/analytics")

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    trends_section = page.split('id="figure-trends"')[1].split("</section>")[0]
    assert "Unavailable: this figure cannot be computed right now." in trends_section
    assert "Drip Plumbing" in page and "$2,800.00" in page  # the partners figure
    assert "Ana Diaz" in page  # the customers figure
    assert "dashboard figure months could not be computed" in caplog.text
    assert "integer out of range" in caplog.text

    unavailable = client.get("/analytics/trends.csv")
    assert unavailable.status_code == 503
    assert unavailable.get_data(as_text=True).startswith("unavailable")
    assert client.get("/analytics/partners.csv").status_code == 200
