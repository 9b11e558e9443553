"""Referrals' part in what lower domains do (registered on import; listed in
referral/domains.py): erasing a customer withdraws their open referrals, and
the consent pages ask, record and withdraw a referral's consent here."""

from __future__ import annotations

from sqlmodel import Session

from referral.businesses.models import Business
from referral.consent import services as consent
from referral.consent.models import ConsentRecord, ConsentRequest
from referral.consent.subjects import Answer, ConsentSubject, Question, register_subject
from referral.customers.erasure import ErasureStage, on_erasure
from referral.customers.models import Customer
from referral.referrals import services
from referral.referrals.models import Referral


@on_erasure(ErasureStage.CLOSE)
def withdraw_open_referrals(session: Session, customer: Customer) -> None:
    services.customer_erased(session=session, customer=customer)


def _question(session: Session, request: ConsentRequest) -> Question:
    referral = session.get(Referral, request.referral_id)
    customer = session.get(Customer, request.customer_id)
    assert referral is not None and customer is not None
    referrer = session.get(Business, referral.sender_id)
    receiver = session.get(Business, referral.receiver_id)
    assert referrer is not None and receiver is not None
    shown = consent.consent_text(
        session, referrer=referrer, receiver=receiver, customer=customer, need=referral.need
    )
    return Question(text=shown.text, asker=referrer)


def _answer(session: Session, request: ConsentRequest, answer: Answer) -> None:
    services.answer_consent(
        session=session,
        token=answer.token,
        yes=answer.yes,
        ip=answer.ip,
        user_agent=answer.user_agent,
    )


def _withdraw(session: Session, record: ConsentRecord, token: str) -> None:
    services.withdraw_consent_by_link(session=session, token=token)


def _receiver_name(session: Session, referral_id: int) -> str:
    referral = session.get(Referral, referral_id)
    receiver = session.get(Business, referral.receiver_id) if referral else None
    return receiver.name if receiver else ""


register_subject(
    "referral",
    ConsentSubject(
        question=_question, answer=_answer, withdraw=_withdraw, receiver_name=_receiver_name
    ),
)
