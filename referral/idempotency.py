"""`Idempotency-Key` on every API POST that creates something.

The first answer (a 2xx) to a key is stored with a fingerprint of the request
(method, path and body) for KEEP (24 hours): the same key with the same
request gets that answer again, without creating anything; the same key with
another request is refused (422), as is a key over 80 characters. The key is
per business, so two businesses cannot collide.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Callable
from typing import Any

from flask import Response, g, make_response, request
from sqlalchemy import Column, Integer, String, Text, UniqueConstraint, bindparam, delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, select
from sqlmodel.sql.expression import SelectOfScalar

from referral.db import get_session, utcnow
from referral.errors import DomainError, ValidationFailed
from referral.tables import TableBase, foreign_key

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 80
KEEP = dt.timedelta(hours=24)
PARAMETER = {
    "in": "header",
    "name": HEADER,
    "schema": {"type": "string", "maxLength": MAX_KEY_LENGTH},
    "description": (
        "A retried POST with the same key and body gets the first answer again and creates"
        " nothing more; the same key with another body is refused (422). Kept 24 hours."
    ),
}


class IdempotentRequest(TableBase, table=True):
    """The first answer to a business's Idempotency-Key."""

    __tablename__ = "idempotent_request"
    __table_args__ = (UniqueConstraint("business_id", "key", name="uq_idempotent_request_key"),)
    business_id: int = foreign_key("business.id")
    key: str = Field(sa_column=Column(String(MAX_KEY_LENGTH), nullable=False))
    request_sha256: str = Field(sa_column=Column(String(64), nullable=False))
    status: int = Field(sa_column=Column(Integer, nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))


def _fingerprint() -> str:
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    """Honour Idempotency-Key on a creating POST (inside the API key's check)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if not key:
            return view(*args, **kwargs)
        if len(key) > MAX_KEY_LENGTH:
            raise ValidationFailed(
                "Some fields are not valid.",
                errors={HEADER: [f"At most {MAX_KEY_LENGTH} characters."]},
            )
        session = get_session()
        business_id = g.business.id
        fingerprint = _fingerprint()
        found = _found(session, business_id, key)
        stored = found if found is not None and found.created_at > utcnow() - KEEP else None
        if stored is not None:
            if stored.request_sha256 != fingerprint:
                raise ValidationFailed(
                    "This Idempotency-Key was used for another request.",
                    errors={HEADER: ["Used for another request in the last 24 hours."]},
                )
            replay = Response(stored.body, status=stored.status, mimetype="application/json")
            replay.headers["Idempotent-Replayed"] = "true"
            return replay
        response = make_response(view(*args, **kwargs))
        if 200 <= response.status_code < 300:
            _store(session, business_id, key, fingerprint, response, expired=found)
        return response

    return wrapped


def _found(session: Session, business_id: int, key: str) -> IdempotentRequest | None:
    """The answer stored for the key, expired or not."""
    return session.exec(_found_query(), params={"business_id": business_id, "key": key}).first()


@functools.cache
def _found_query() -> SelectOfScalar[IdempotentRequest]:
    """Built once: it runs on every keyed POST, and building it cost a third
    of running it."""
    return select(IdempotentRequest).where(
        IdempotentRequest.business_id == bindparam("business_id"),
        IdempotentRequest.key == bindparam("key"),
    )


def _store(
    session: Session,
    business_id: int,
    key: str,
    fingerprint: str,
    response: Response,
    *,
    expired: IdempotentRequest | None,
) -> None:
    """Store the answer: a new row, or the expired one taken over (only if no
    other request took it over meanwhile)."""
    answer = {
        "request_sha256": fingerprint,
        "status": response.status_code,
        "body": response.get_data(as_text=True),
    }
    if expired is not None:
        taken = session.execute(
            update(IdempotentRequest)
            .where(
                IdempotentRequest.id == expired.id,  # type: ignore[arg-type]
                IdempotentRequest.created_at == expired.created_at,  # type: ignore[arg-type]
            )
            .values(created_at=utcnow(), **answer)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not taken:
            raise _raced()
        return
    session.add(IdempotentRequest(business_id=business_id, key=key, **answer))
    try:
        # No savepoint: losing the race fails the whole request, whose
        # transaction is then rolled back with everything the view wrote.
        session.flush()
    except IntegrityError as exc:
        raise _raced() from exc


def _raced() -> DomainError:
    """Another request with the key finished first: its answer stands."""
    return DomainError(
        "A request with this Idempotency-Key was being made at the same time; retry it."
    )


def prune(session: Session, *, now: dt.datetime | None = None) -> int:
    """Forget keys older than KEEP; the number forgotten."""
    cutoff = (now or utcnow()) - KEEP
    return session.execute(
        delete(IdempotentRequest).where(IdempotentRequest.created_at < cutoff)  # type: ignore[arg-type]
    ).rowcount
