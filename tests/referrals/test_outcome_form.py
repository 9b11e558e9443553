"""Reporting a job won: a bad job value or date is named under its own field,
with a reason, and every value entered stays in the form."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlmodel import Session

from referral.auth.models import User
from referral.referrals.models import Referral
from tests.support.factories import accepted_referral, business, partner_up, percent, sign_in


@pytest.mark.parametrize(
    ("job_value", "job_date", "field", "reason"),
    [
        ("", "2026-11-20", "job_value", "Enter what the customer paid for the job, in dollars."),
        ("twelve", "2026-11-20", "job_value", "“twelve” is not an amount"),
        ("12.345", "2026-11-20", "job_value", "at most two decimals"),
        ("1250", "", "job_date", "Enter the date of the job."),
        ("1250", "20/11/2026", "job_date", "Enter the date as year-month-day"),
    ],
)
def test_a_bad_job_value_or_date_is_explained_and_nothing_entered_is_lost(
    app: Flask, db: Session, job_value: str, job_date: str, field: str, reason: str
) -> None:
    hvac = business(db, "Outcome HVAC", "hvac", "78701", "outcome@hvac.example")
    plumber = business(db, "Outcome Plumbing", "plumbing", "78704", "outcome@plumbing.example")
    with app.app_context():
        partner_up(db, hvac, plumber, a_pays=percent(1000), b_pays=percent(1000))
        referral = accepted_referral(db, hvac, plumber)
    browser = sign_in(app, db.get(User, plumber.user_id))
    page = f"/referrals/{referral.id}"

    response = browser.post_form(
        f"{page}/won", {"job_value": job_value, "job_date": job_date}, page=page
    )

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'<p class="field-error" id="{field}-error">' in html and reason in html
    assert f'id="{field}" name="{field}"' in html and 'aria-invalid="true"' in html
    assert f'value="{job_value}"' in html and f'value="{job_date}"' in html
    db.refresh(referral)
    assert db.get(Referral, referral.id).status == "accepted"  # type: ignore[union-attr]
