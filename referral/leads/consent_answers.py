"""How the consent pages ask, record and withdraw a lead's consent
(registered with consent on import; listed in referral/domains.py)."""

from __future__ import annotations

from sqlmodel import Session

from referral.businesses.models import Business
from referral.consent import services as consent
from referral.consent.models import ConsentRecord, ConsentRequest
from referral.consent.subjects import Answer, ConsentSubject, Question, register_subject
from referral.customers.models import Customer
from referral.errors import DomainError
from referral.leads import offers
from referral.leads.models import Lead, LeadStatus


def _lead(session: Session, lead_id: int | None) -> Lead:
    lead = session.get(Lead, lead_id)
    assert lead is not None
    return lead


def _question(session: Session, request: ConsentRequest) -> Question:
    lead = _lead(session, request.lead_id)
    customer = session.get(Customer, request.customer_id)
    seller = session.get(Business, lead.seller_id)
    assert customer is not None and seller is not None
    shown = consent.lead_consent_text(session, seller=seller, lead=lead, customer=customer)
    return Question(text=shown.text, asker=seller)


def _answer(session: Session, request: ConsentRequest, answer: Answer) -> None:
    lead = _lead(session, request.lead_id)
    if lead.status != LeadStatus.AWAITING_CONSENT:
        raise DomainError("This request is closed.")
    consent.claim_consent_request(session, request)
    offers.answer_consent(
        session=session, lead=lead, yes=answer.yes, ip=answer.ip, user_agent=answer.user_agent
    )


def _withdraw(session: Session, record: ConsentRecord, token: str) -> None:
    if consent.withdraw(session, record):
        offers.consent_withdrawn(session, _lead(session, record.lead_id))


def _receiver_name(session: Session, lead_id: int) -> str:
    return consent.lead_buyers_description(session, session.get(Lead, lead_id))


register_subject(
    "lead",
    ConsentSubject(
        question=_question, answer=_answer, withdraw=_withdraw, receiver_name=_receiver_name
    ),
)
