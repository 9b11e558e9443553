"""The dashboard's words: counts pluralised; a settlement's lines name the
referral they pay for."""

from __future__ import annotations

from referral.templating import plural


def test_counts_are_pluralised() -> None:
    assert plural(1, "customer") == "1 customer"
    assert plural(2, "customer") == "2 customers"
    assert plural(0, "mismatch", "mismatches") == "0 mismatches"
    assert plural(1_250, "referral") == "1,250 referrals"
