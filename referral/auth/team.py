"""Teams: who works for a business, invitations, roles and removal.

Owners manage the team; every lookup is scoped to the actor's business, so
another business's member or invitation is "not found", never "forbidden".
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, update
from sqlmodel import Session, select

from referral.auth.apikeys.services import revoke_keys_created_by
from referral.auth.links import absolute_url
from referral.auth.models import Invitation, User
from referral.auth.passwords import hash_password
from referral.auth.services import (
    add_user,
    duplicate_email,
    end_all_login_sessions,
    normalise_email,
    refuse_weak_password,
    require_verified_business,
    user_by_email,
)
from referral.auth.tokens import hash_token, new_token
from referral.auth.workplace import business_name, find_business, lock_team
from referral.db import utcnow
from referral.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from referral.mail.services import queue_email

INVITATION_FOR = dt.timedelta(days=7)
LAST_OWNER = "A business needs at least one owner. Make someone else owner first."


def _require_owner(actor: User) -> None:
    if actor.role != "owner":
        raise PermissionDenied("Only owners can manage the team.")


# --- reading --------------------------------------------------------------------------------


def team_members(*, session: Session, business_id: int) -> list[User]:
    """Active members, by name."""
    return list(
        session.exec(
            select(User)
            .where(User.business_id == business_id, User.disabled_at.is_(None))
            .order_by(User.name, User.id)
        )
    )


def pending_invitations(*, session: Session, business_id: int) -> list[Invitation]:
    """Invitations not yet accepted, revoked or expired, newest first."""
    return list(
        session.exec(
            select(Invitation)
            .where(
                Invitation.business_id == business_id,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > utcnow(),
            )
            .order_by(Invitation.id.desc())
        )
    )


# --- invitations ----------------------------------------------------------------------------


def invite_member(*, session: Session, actor: User, email: str, role: str) -> Invitation:
    """Email an invitation (7 days, once) to join the actor's business with `role`.
    Fails for a non-owner (PermissionDenied), a taken email or an invitation
    already waiting for it (ValidationFailed on `email`)."""
    _require_owner(actor)
    require_verified_business(session, actor.business_id)
    email = normalise_email(email)
    if user_by_email(session, email) is not None:
        raise duplicate_email()
    waiting = pending_invitations(session=session, business_id=actor.business_id)
    if any(i.email == email for i in waiting):
        raise ValidationFailed(
            "Some fields are not valid.",
            errors={"email": ["An invitation to this email is already waiting."]},
        )
    raw, digest = new_token()
    invitation = Invitation(
        business_id=actor.business_id,
        invited_by_id=actor.id,
        email=email,
        role=role,
        token_hash=digest,
        expires_at=utcnow() + INVITATION_FOR,
    )
    session.add(invitation)
    business = find_business(session, actor.business_id)
    assert business is not None
    queue_email(
        session,
        to=email,
        subject=f"{actor.name} invited you to {business.name} on Referral",
        template="invitation",
        inviter=actor.name,
        business=business,
        role=role,
        link=absolute_url("auth.accept_invitation", token=raw),
        days=INVITATION_FOR.days,
    )
    session.flush()
    return invitation


def revoke_invitation(*, session: Session, actor: User, invitation_id: int) -> None:
    """Stop an invitation from working. Owners only; fails (NotFound) for
    another business's invitation, (DomainError) for one already accepted."""
    _require_owner(actor)
    invitation = session.get(Invitation, invitation_id)
    if invitation is None or invitation.business_id != actor.business_id:
        raise NotFound("No such invitation.")
    if invitation.accepted_at is not None:
        raise DomainError("This invitation was already accepted: remove the member instead.")
    if invitation.revoked_at is None:
        invitation.revoked_at = utcnow()


def open_invitation(*, session: Session, token: str) -> Invitation:
    """The invitation a link stands for. Fails when unknown, used, revoked or expired."""
    invitation = session.exec(
        select(Invitation).where(Invitation.token_hash == hash_token(token))
    ).first()
    if invitation is None or invitation.revoked_at is not None:
        raise DomainError("This invitation is not valid. Ask for a new one.")
    if invitation.accepted_at is not None:
        raise DomainError("This invitation has already been used. Log in instead.")
    if invitation.expires_at <= utcnow():
        raise DomainError("This invitation has expired. Ask for a new one.")
    return invitation


def accept_invitation(*, session: Session, token: str, name: str, password: str) -> User:
    """Join the business as a verified member (the link proved the email).
    Fails (DomainError) on a bad link or an email that has an account by now,
    (ValidationFailed) on a weak password."""
    invitation = open_invitation(session=session, token=token)
    refuse_weak_password(
        password,
        email=invitation.email,
        business_name=business_name(session, invitation.business_id),
        name=name,
    )
    now = utcnow()
    claimed = session.execute(
        update(Invitation)
        .where(
            Invitation.id == invitation.id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .values(accepted_at=now)
    )
    if claimed.rowcount != 1:
        raise DomainError("This invitation has already been used. Log in instead.")
    user = User(
        business_id=invitation.business_id,
        email=invitation.email,
        name=name,
        role=invitation.role,
        password_hash=hash_password(password),
        email_verified_at=now,
        password_changed_at=now,
    )
    try:
        return add_user(session, user)
    except ValidationFailed as exc:
        raise DomainError("An account with this email already exists. Log in instead.") from exc


# --- members --------------------------------------------------------------------------------


def _own_member(session: Session, actor: User, user_id: int) -> User:
    member = session.get(User, user_id)
    if member is None or member.business_id != actor.business_id or member.disabled_at:
        raise NotFound("No such team member.")
    return member


def _owner_count(session: Session, business_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(User)
            .where(
                User.business_id == business_id, User.role == "owner", User.disabled_at.is_(None)
            )
        )
        or 0
    )


# Roles that may hold API keys; a member moved below them loses theirs.
KEY_HOLDING_ROLES = ("owner", "manager")


def change_role(*, session: Session, actor: User, user_id: int, role: str) -> int:
    """Give a member another role; below manager, every API key they created is
    revoked. Returns how many keys were revoked. Owners only; fails (NotFound)
    for someone outside the business, (DomainError) when it would demote the
    last owner."""
    _require_owner(actor)
    member = _own_member(session, actor, user_id)
    # Keys first, then the team lock: an API call holding its key's row and
    # then touching the business locks them in the same order (no deadlock).
    revoked = (
        revoke_keys_created_by(session=session, user_id=member.id)  # type: ignore[arg-type]
        if role not in KEY_HOLDING_ROLES
        else 0
    )
    lock_team(session, actor.business_id)
    if member.role == "owner" and role != "owner" and _owner_count(session, member.business_id) < 2:
        raise DomainError(LAST_OWNER)
    member.role = role
    return revoked


def remove_member(*, session: Session, actor: User, user_id: int) -> int:
    """Remove someone from the team: their account is disabled (past actions
    keep their name), their sessions end, every API key they created is
    revoked, and their email is freed for reuse. Returns how many keys were
    revoked. Owners only; fails (NotFound) for someone outside the business,
    (DomainError) for the last owner."""
    _require_owner(actor)
    member = _own_member(session, actor, user_id)
    revoked = revoke_keys_created_by(session=session, user_id=member.id)  # type: ignore[arg-type]
    lock_team(session, actor.business_id)
    if member.role == "owner" and _owner_count(session, member.business_id) < 2:
        raise DomainError(LAST_OWNER)
    member.disabled_at = utcnow()
    member.email = f"removed-{member.id}-{member.email}"[:254]
    end_all_login_sessions(session=session, user=member)
    return revoked
