"""Months are the business's: a dashboard's month begins at midnight in the
business's zone (Austin's for these businesses, from their ZIP), daylight
saving included, and the months add up to the funnel of the same period."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from referral.analytics import funnel, trends
from referral.analytics.sql import Period
from tests.support.history import History

pytestmark = pytest.mark.usefixtures("app_context")

AUSTIN = ZoneInfo("America/Chicago")
FIRST_QUARTER = Period(dt.date(2026, 1, 1), dt.date(2026, 4, 1), AUSTIN)


def austin(*when: int) -> dt.datetime:
    """A moment given in Austin's wall-clock time, as UTC."""
    return dt.datetime(*when, tzinfo=AUSTIN).astimezone(dt.UTC)


def test_months_begin_at_local_midnight_on_both_sides_of_daylight_saving():
    months = FIRST_QUARTER.months()

    assert [m for m, _, _ in months] == ["2026-01", "2026-02", "2026-03"]
    utc = dt.UTC
    # Central Standard Time (UTC-6) until March 8, Central Daylight Time (UTC-5) after.
    assert months[0][1:] == (
        dt.datetime(2026, 1, 1, 6, tzinfo=utc),
        dt.datetime(2026, 2, 1, 6, tzinfo=utc),
    )
    assert months[2][1:] == (
        dt.datetime(2026, 3, 1, 6, tzinfo=utc),
        dt.datetime(2026, 4, 1, 5, tzinfo=utc),
    )
    assert FIRST_QUARTER.start_at == months[0][1]
    assert FIRST_QUARTER.end_at == months[2][2]


def test_a_period_ending_today_is_todays_in_the_business_zone():
    # 03:00 UTC on February 1 is still January 31 in Austin.
    period = Period.last_months_until(1, now=dt.datetime(2026, 2, 1, 3, tzinfo=dt.UTC), zone=AUSTIN)

    assert (period.start, period.end) == (dt.date(2026, 1, 1), dt.date(2026, 2, 1))


def test_jobs_won_count_in_the_local_month_and_add_up_to_the_funnel(db):
    h = History(db)
    hvac, plumber = h.hvac, h.plumber
    won_at = {
        # 20:00 on January 31 in Austin is 02:00 on February 1 in UTC: January's.
        "Ann": (austin(2026, 1, 31, 9), austin(2026, 1, 31, 20)),
        # 00:30 on February 1 in Austin, 06:30 UTC: February's.
        "Bo": (austin(2026, 1, 31, 10), austin(2026, 2, 1, 0, 30)),
        # The night of the change to daylight saving (02:00 on March 8).
        "Cy": (austin(2026, 3, 7, 12), austin(2026, 3, 8, 3, 30)),
        # 23:30 on March 31 in Austin (CDT) is 04:30 on April 1 in UTC: March's.
        "Di": (austin(2026, 3, 31, 8), austin(2026, 3, 31, 23, 30)),
        # 00:30 on April 1 in Austin: after the period, in both counts.
        "Ed": (austin(2026, 4, 1, 0, 10), austin(2026, 4, 1, 0, 30)),
    }
    for name, (sent, won) in won_at.items():
        referral = h.refer(plumber, hvac, h.customer(plumber, f"{name} Lee"))
        h.accept(referral, hvac, 1)
        h.win(referral, hvac, 50_000, 2, won.date())
        referral.created_at = referral.sent_at = sent
        referral.accepted_at, referral.closed_at = sent + dt.timedelta(minutes=5), won
    db.flush()

    months = trends.monthly(db, hvac.business_id, period=FIRST_QUARTER)
    received = funnel.funnel(db, hvac.business_id, direction="received", period=FIRST_QUARTER)

    assert {m.month: m.figures["won"] for m in months} == {
        "2026-01": 1,
        "2026-02": 1,
        "2026-03": 2,
    }
    assert {m.month: m.figures["received"] for m in months} == {
        "2026-01": 2,
        "2026-02": 0,
        "2026-03": 2,
    }
    assert sum(m.figures["won"] for m in months) == received.counts["won"] == 4
