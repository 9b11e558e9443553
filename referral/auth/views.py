"""Pages: verify email, log in and out, passwords, and the team."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from referral.auth import schemas, services
from referral.auth import team as team_services
from referral.auth.current import SESSION_KEY, login_required, roles_required
from referral.auth.limits import per_email_limit
from referral.auth.workplace import find_business
from referral.db import get_session
from referral.errors import DomainError, ValidationFailed
from referral.forms import parse_form, run_action
from referral.security import limiter, safe_next

bp = Blueprint("auth", __name__)

LOGIN_FAILED = "Email or password is incorrect."


def _page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    context.setdefault("errors", {})
    context.setdefault("form", {})
    return render_template(template, **context), status


def _log_in(user: Any) -> None:
    """Rotate the session: the browser's previous login (if any) ends, the
    Flask session starts empty, and a fresh login token goes into it."""
    db = get_session()
    previous = session.get(SESSION_KEY)
    if previous:
        services.end_login_session(session=db, token=previous)
    login = services.start_login_session(
        session=db, user=user, user_agent=request.headers.get("User-Agent", "")
    )
    session.clear()
    session.permanent = True
    session[SESSION_KEY] = login.token


# --- verification ---------------------------------------------------------------------


@bp.get("/verify/<token>")
def verify(token: str) -> Response | tuple[str, int]:
    """Confirm an email address from the emailed link."""
    try:
        user = services.verify_email(session=get_session(), token=token)
    except DomainError as error:
        return _page("auth/link_problem.html", 400, message=error.message)
    if g.get("user") is None and user.disabled_at is None:
        _log_in(user)  # the emailed link proves the address: it signs in after sign-up
    flash("Thank you: your email address is confirmed.", "success")
    return redirect(url_for("home.index"))


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/verify/resend", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@login_required
@per_email_limit()
def resend_verification() -> Response | tuple[str, int]:
    """Send the verification email again."""
    if g.user.email_verified_at is not None:
        flash("Your email address is already confirmed.", "success")
        return redirect(url_for("home.index"))
    if request.method == "GET":
        return _page("auth/resend_verification.html")
    services.send_verification_email(session=get_session(), user=g.user)
    flash(f"We sent a new link to {g.user.email}.", "success")
    return redirect(url_for("home.index"))


# --- logging in and out --------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login() -> Response | tuple[str, int]:
    """Log in with email and password."""
    if request.method == "GET":
        return _page("auth/login.html", next=request.args.get("next", ""))
    data, errors = parse_form(schemas.LoginSchema(), request.form)
    user = None
    if not errors:
        user = services.authenticate(
            session=get_session(), email=data["email"], password=data["password"]
        )
    if user is None:
        return _page(
            "auth/login.html",
            401 if not errors else 422,
            form={"email": request.form.get("email", "")},
            errors={"_form": [LOGIN_FAILED]},
            next=request.form.get("next", ""),
        )
    _log_in(user)
    return redirect(safe_next(request.form.get("next")))


@bp.post("/logout")
def logout() -> Response:
    """Log out: this browser's login session ends."""
    token = session.get(SESSION_KEY)
    if token:
        services.end_login_session(session=get_session(), token=token)
    session.clear()
    flash("You are logged out.", "success")
    return redirect(url_for("home.index"))


# --- passwords ---------------------------------------------------------------------------------


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@per_email_limit()
def forgot_password() -> Response | tuple[str, int]:
    """Ask for a password reset link."""
    if request.method == "GET":
        return _page("auth/forgot_password.html")
    data, errors = parse_form(schemas.ForgotPasswordSchema(), request.form)
    if errors:
        return _page("auth/forgot_password.html", 422, form=request.form, errors=errors)
    services.request_password_reset(session=get_session(), email=data["email"])
    flash(
        "If an account uses that email, we sent it a link to reset the password. "
        "The link works for one hour.",
        "success",
    )
    return redirect(url_for("auth.login"))


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> Response | tuple[str, int]:
    """Choose a new password from an emailed link."""
    db = get_session()
    try:
        services.check_reset_token(session=db, token=token)
    except DomainError as error:
        return _page("auth/link_problem.html", 400, message=error.message)
    if request.method == "GET":
        return _page("auth/reset_password.html")
    data, errors = parse_form(schemas.NewPasswordSchema(), request.form)
    if errors:
        return _page("auth/reset_password.html", 422, errors=errors)
    try:
        services.reset_password(session=db, token=token, new_password=data["password"])
    except ValidationFailed as error:  # a weak password: the form says why
        db.rollback()
        return _page("auth/reset_password.html", 422, errors=error.errors)
    except DomainError as error:  # spent by another request a moment ago
        db.rollback()
        return _page("auth/link_problem.html", 400, message=error.message)
    session.clear()
    flash("Your password is changed. Log in with the new one.", "success")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password() -> Response | tuple[str, int]:
    """Change my password; my other sessions end."""
    if request.method == "GET":
        return _page("auth/change_password.html")
    data, errors = parse_form(schemas.ChangePasswordSchema(), request.form)
    if not errors:
        try:
            services.change_password(
                session=get_session(),
                user=g.user,
                current_password=data["current_password"],
                new_password=data["password"],
            )
        except DomainError as error:
            get_session().rollback()
            errors = error.errors
        else:
            _log_in(g.user)
            flash("Your password is changed. Other devices have been logged out.", "success")
            return redirect(url_for("home.index"))
    return _page("auth/change_password.html", 422, errors=errors)


# --- the team -------------------------------------------------------------------------------------


def _team_page(status: int = 200, **context: Any) -> tuple[str, int]:
    db = get_session()
    return _page(
        "auth/team.html",
        status,
        members=team_services.team_members(session=db, business_id=g.business.id),
        invitations=team_services.pending_invitations(session=db, business_id=g.business.id),
        roles=schemas.ROLE_CHOICES,
        **context,
    )


@bp.get("/team")
@login_required
def team() -> tuple[str, int]:
    """Who works here; owners invite, change roles and remove."""
    return _team_page()


def _team_action(action: Any, done: str | Callable[[Any], str], **kwargs: Any) -> Response:
    run_action(lambda: action(session=get_session(), actor=g.user, **kwargs), done=done)
    return redirect(url_for("auth.team"))


@bp.post("/team/invitations")
@roles_required("owner")
def invite() -> Response | tuple[str, int]:
    """Invite someone to the team by email, with a role."""
    data, errors = parse_form(schemas.InviteSchema(), request.form)
    if not errors:
        try:
            team_services.invite_member(
                session=get_session(), actor=g.user, email=data["email"], role=data["role"]
            )
        except DomainError as error:
            get_session().rollback()
            errors = error.errors or {"_form": [error.message]}
        else:
            flash(f"Invitation sent to {data['email']}.", "success")
            return redirect(url_for("auth.team"))
    return _team_page(422, form=request.form, errors=errors)


@bp.post("/team/invitations/<int:invitation_id>/revoke")
@roles_required("owner")
def revoke_invitation(invitation_id: int) -> Response:
    """Stop a waiting invitation from working."""
    return _team_action(
        team_services.revoke_invitation, "Invitation revoked.", invitation_id=invitation_id
    )


@bp.post("/team/members/<int:user_id>/role")
@roles_required("owner")
def change_role(user_id: int) -> Response:
    """Give a member another role (the last owner stays owner)."""
    data, errors = parse_form(schemas.RoleSchema(), request.form)
    if errors:
        flash("Choose a role.", "error")
        return redirect(url_for("auth.team"))
    return _team_action(
        team_services.change_role,
        lambda revoked: "Role changed." + _keys_revoked(revoked),
        user_id=user_id,
        role=data["role"],
    )


def _keys_revoked(count: int) -> str:
    if not count:
        return ""
    if count == 1:
        return " The API key they created was revoked."
    return f" The {count} API keys they created were revoked."


@bp.post("/team/members/<int:user_id>/remove")
@roles_required("owner")
def remove_member(user_id: int) -> Response:
    """Remove a member: they are logged out, cannot log in again, and the API
    keys they created stop working."""
    return _team_action(
        team_services.remove_member,
        lambda revoked: (
            "Removed from the team: they are logged out and cannot log in again."
            + (_keys_revoked(revoked) or " They had created no API keys.")
        ),
        user_id=user_id,
    )


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def accept_invitation(token: str) -> Response | tuple[str, int]:
    """Join a business from an emailed invitation."""
    db = get_session()
    try:
        invitation = team_services.open_invitation(session=db, token=token)
    except DomainError as error:
        return _page("auth/link_problem.html", 400, message=error.message)
    business = find_business(db, invitation.business_id)
    if request.method == "GET":
        return _page("auth/accept_invitation.html", invitation=invitation, business=business)
    data, errors = parse_form(schemas.AcceptInvitationSchema(), request.form)
    if not errors:
        try:
            user = team_services.accept_invitation(
                session=db, token=token, name=data["name"], password=data["password"]
            )
        except ValidationFailed as error:  # a weak password: the form says why
            db.rollback()
            errors = error.errors
        except DomainError as error:
            db.rollback()
            return _page("auth/link_problem.html", 400, message=error.message)
        else:
            _log_in(user)
            flash(f"Welcome to {business.name if business else 'your team'}!", "success")
            return redirect(url_for("home.index"))
    return _page(
        "auth/accept_invitation.html",
        422,
        invitation=invitation,
        business=business,
        form=request.form,
        errors=errors,
    )
