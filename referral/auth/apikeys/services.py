"""API keys: created by owners and managers, shown once, stored as a SHA-256."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlmodel import Session, select

from referral.auth.models import ApiKey, User
from referral.auth.services import require_verified_business
from referral.auth.tokens import hash_token
from referral.db import utcnow
from referral.errors import NotFound

KEY_PREFIX = "rk_live_"


@dataclass(frozen=True)
class IssuedKey:
    api_key: ApiKey
    secret: str  # the whole key: shown to the user once, never stored


def create_api_key(*, session: Session, actor: User, name: str) -> IssuedKey:
    """A new key for the actor's business, named for what uses it.

    The key is `rk_live_<8 hex>_<43 random url-safe chars>`; its first part is
    kept as the prefix (to recognise it in the list) and the whole as SHA-256.
    Fails (PermissionDenied) until the business's owner confirmed their email.
    """
    require_verified_business(session, actor.business_id)
    prefix = KEY_PREFIX + secrets.token_hex(4)
    secret = f"{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey(
        business_id=actor.business_id,
        created_by_id=actor.id,
        name=name,
        prefix=prefix,
        key_hash=hash_token(secret),
    )
    session.add(api_key)
    session.flush()
    return IssuedKey(api_key=api_key, secret=secret)


def list_api_keys(*, session: Session, business_id: int) -> list[tuple[ApiKey, User]]:
    """The business's keys with who created each: active ones first, newest first."""
    return list(
        session.exec(
            select(ApiKey, User)
            .join(User, User.id == ApiKey.created_by_id)
            .where(ApiKey.business_id == business_id)
            .order_by(ApiKey.revoked_at.is_not(None), ApiKey.id.desc())
        )
    )


def revoke_keys_created_by(*, session: Session, user_id: int) -> int:
    """Revoke every active key `user_id` created (they leave the team, or lose
    the right to hold keys); the count revoked. A key in use at that moment
    answers with its old rights until this commits, then 401."""
    keys = session.exec(
        select(ApiKey).where(ApiKey.created_by_id == user_id, ApiKey.revoked_at.is_(None))
    ).all()
    now = utcnow()
    for api_key in keys:
        api_key.revoked_at = now
    session.flush()
    return len(keys)


def revoke_api_key(*, session: Session, business_id: int, key_id: int) -> ApiKey:
    """Revoke at once: the next call with it is refused. NotFound for another
    business's key."""
    api_key = session.get(ApiKey, key_id)
    if api_key is None or api_key.business_id != business_id:
        raise NotFound("No such API key.")
    if api_key.revoked_at is None:
        api_key.revoked_at = utcnow()
    return api_key
