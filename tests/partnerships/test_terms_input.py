"""Terms input: bad values are refused with a message for the field."""

from __future__ import annotations

import marshmallow as ma
import pytest
from werkzeug.datastructures import MultiDict

from referral.partnerships.schemas import TermsSchema, parse_terms_form
from referral.partnerships.terms import describe_terms


@pytest.mark.parametrize(
    ("terms", "field"),
    [
        ({"basis": "percent", "rate_bps": 0}, "rate_bps"),
        ({"basis": "percent", "rate_bps": 5001}, "rate_bps"),
        ({"basis": "percent"}, "rate_bps"),
        ({"basis": "flat_per_won", "flat_fee_cents": -500}, "flat_fee_cents"),
        ({"basis": "flat_per_won", "flat_fee_cents": "fifty"}, "flat_fee_cents"),
        ({"basis": "flat_per_won", "flat_fee_cents": 1_000_001}, "flat_fee_cents"),
        ({"basis": "flat_per_accepted"}, "flat_fee_cents"),
        ({"basis": "percent", "rate_bps": 1000, "hold_days": 91}, "hold_days"),
        (
            {"basis": "percent", "rate_bps": 1000, "response_window_hours": 0},
            "response_window_hours",
        ),
        ({"basis": "percent", "rate_bps": 1000, "cap_cents": 0}, "cap_cents"),
        ({"basis": "bribe", "rate_bps": 1000}, "basis"),
    ],
)
def test_api_terms_refuse_bad_values(terms: dict[str, object], field: str) -> None:
    with pytest.raises(ma.ValidationError) as error:
        TermsSchema().load(terms)
    assert field in error.value.normalized_messages()


def test_api_terms_keep_only_the_amount_their_basis_uses() -> None:
    offer = TermsSchema().load({"basis": "percent", "rate_bps": 1250, "flat_fee_cents": 900})

    assert (offer.rate_bps, offer.flat_fee_cents) == (1250, None)
    assert describe_terms(offer) == "12.5% of the job value; held 14 days; answer within 48 hours"


def form(**fields: str) -> MultiDict[str, str]:
    base = {
        "they_refer_to_me-basis": "percent",
        "they_refer_to_me-percent": "10",
        "they_refer_to_me-hold_days": "14",
        "they_refer_to_me-response_window_hours": "48",
        "i_refer_to_them-basis": "flat_per_won",
        "i_refer_to_them-flat_fee": "149.50",
        "i_refer_to_them-cap": "",
        "i_refer_to_them-hold_days": "0",
        "i_refer_to_them-response_window_hours": "24",
    }
    base.update(fields)
    return MultiDict(base)


def test_a_form_speaks_percent_and_dollars() -> None:
    pair, _, errors = parse_terms_form(form())

    assert errors == {}
    assert pair is not None
    assert pair.they_refer_to_me.rate_bps == 1000
    assert pair.i_refer_to_them.flat_fee_cents == 14950
    assert describe_terms(pair.i_refer_to_them) == (
        "$149.50 per won job; no hold; answer within 24 hours"
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("they_refer_to_me-percent", "0"),
        ("they_refer_to_me-percent", "50.01"),
        ("they_refer_to_me-percent", "ten"),
        ("i_refer_to_them-flat_fee", "-5"),
        ("i_refer_to_them-flat_fee", "12.345"),
        ("i_refer_to_them-hold_days", "91"),
    ],
)
def test_a_form_refuses_bad_values_field_by_field(field: str, value: str) -> None:
    pair, _, errors = parse_terms_form(form(**{field: value}))

    assert pair is None
    assert list(errors) == [field]


def test_the_hidden_amount_of_the_other_basis_is_not_validated() -> None:
    """Percent typed wrongly, then the basis switched to a flat fee: the page
    hid the percent field, and the terms do not use it."""
    pair, _, errors = parse_terms_form(
        form(
            **{
                "they_refer_to_me-basis": "flat_per_won",
                "they_refer_to_me-percent": "ten",
                "they_refer_to_me-flat_fee": "150",
                "i_refer_to_them-percent": "abc",
            }
        )
    )

    assert errors == {}
    assert pair is not None
    assert (pair.they_refer_to_me.flat_fee_cents, pair.they_refer_to_me.rate_bps) == (15000, None)
    assert pair.i_refer_to_them.rate_bps is None
