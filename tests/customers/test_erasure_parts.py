"""The other domains' parts of erasure are registered through referral/domains.py
and run in the order erasure promises: open referrals close (and their
businesses are told) before consent forgets addresses and deletes forms."""

from __future__ import annotations

import referral.domains  # noqa: F401  (registers every domain's reactions)
from referral.customers import erasure
from referral.customers.erasure import ErasureStage


def test_referrals_close_before_consent_forgets() -> None:
    names = {
        stage: [part.__module__ + "." + part.__name__ for part in erasure._PARTS[stage]]
        for stage in ErasureStage
    }

    assert names == {
        ErasureStage.CLOSE: [
            "referral.campaigns.jobs.leave_campaigns",
            "referral.referrals.reactions.withdraw_open_referrals",
        ],
        ErasureStage.FORGET: [
            "referral.consent.reactions.forget_consent_requests",
            "referral.consent.reactions.delete_consent_evidence",
        ],
    }
