"""What a consent is for: a referral or a lead.

Consent sits below referrals and leads, so its pages cannot call them; each
registers here how to put its question, record the customer's answer and
withdraw the consent (in a module `referral/domains.py` lists under its
`reactions`). A request or record is for a lead when it names one, else for
a referral."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sqlmodel import Session

from referral.businesses.models import Business
from referral.consent.models import ConsentRecord, ConsentRequest

SubjectKind = Literal["referral", "lead"]


@dataclass(frozen=True)
class Question:
    """The consent question as the customer sees it."""

    text: str  # the exact text, as consent_text or lead_consent_text made it
    asker: Business  # the business asking: the referrer, or the seller of a lead


@dataclass(frozen=True)
class Answer:
    """The customer's Yes or No through the emailed link."""

    token: str
    yes: bool
    ip: str
    user_agent: str


@dataclass(frozen=True)
class ConsentSubject:
    """How one kind of subject takes part in consent. Every call runs in the
    caller's session and transaction; `answer` raises DomainError (or
    AlreadyAnswered) to refuse."""

    question: Callable[[Session, ConsentRequest], Question]
    answer: Callable[[Session, ConsentRequest, Answer], None]
    withdraw: Callable[[Session, ConsentRecord, str], None]  # the record, the withdrawal token
    receiver_name: Callable[[Session, int], str]  # who gets the details, by the subject's id


_SUBJECTS: dict[SubjectKind, ConsentSubject] = {}


def register_subject(kind: SubjectKind, subject: ConsentSubject) -> None:
    if kind in _SUBJECTS and _SUBJECTS[kind] != subject:
        raise RuntimeError(f"A consent subject for {kind} is already registered.")
    _SUBJECTS[kind] = subject


def kind_of(row: ConsentRequest | ConsentRecord) -> SubjectKind:
    return "lead" if row.lead_id is not None else "referral"


def subject_id(row: ConsentRequest | ConsentRecord) -> int:
    return (row.lead_id if row.lead_id is not None else row.referral_id) or 0


def subject_of(row: ConsentRequest | ConsentRecord) -> ConsentSubject:
    kind = kind_of(row)
    if kind not in _SUBJECTS:
        raise RuntimeError(f"No consent subject registered for {kind} (referral/domains.py).")
    return _SUBJECTS[kind]


def receiver_name(session: Session, row: ConsentRequest | ConsentRecord) -> str:
    """Who receives the customer's details if they agree."""
    return subject_of(row).receiver_name(session, subject_id(row))
