"""Consent's part in what lower domains do (registered on import; listed in
referral/domains.py): erasing a customer forgets where their consent
requests were sent, then deletes their uploaded consent forms."""

from __future__ import annotations

from sqlmodel import Session

from referral.consent.evidence import delete_evidence_of
from referral.consent.services import forget_requests_to
from referral.customers.erasure import ErasureStage, on_erasure
from referral.customers.models import Customer


@on_erasure(ErasureStage.FORGET)
def forget_consent_requests(session: Session, customer: Customer) -> None:
    forget_requests_to(session, customer.id or 0)


@on_erasure(ErasureStage.FORGET)
def delete_consent_evidence(session: Session, customer: Customer) -> None:
    delete_evidence_of(session, customer.id or 0)
