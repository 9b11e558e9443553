"""Account forms."""

from __future__ import annotations

import marshmallow as ma

from referral.auth.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from referral.forms import FormSchema

ROLE_CHOICES = [("owner", "Owner"), ("manager", "Manager"), ("staff", "Staff")]

password_rule = ma.validate.Length(
    min=MIN_PASSWORD_LENGTH,
    max=MAX_PASSWORD_LENGTH,
    error=f"Use {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters.",
)
email_field = ma.fields.Email(
    required=True,
    validate=ma.validate.Length(max=254),
    error_messages={"invalid": "Enter a valid email address.", "required": "Enter your email."},
)
person_name = ma.fields.String(
    required=True,
    validate=ma.validate.Length(min=1, max=120, error="Enter a name of 1 to 120 characters."),
)


class LoginSchema(FormSchema):
    email = ma.fields.String(required=True, validate=ma.validate.Length(max=254))
    password = ma.fields.String(
        required=True, validate=ma.validate.Length(max=1024), metadata={"verbatim": True}
    )


class ForgotPasswordSchema(FormSchema):
    email = email_field


class NewPasswordSchema(FormSchema):
    password = ma.fields.String(required=True, validate=password_rule, metadata={"verbatim": True})


class ChangePasswordSchema(NewPasswordSchema):
    current_password = ma.fields.String(
        required=True, validate=ma.validate.Length(max=1024), metadata={"verbatim": True}
    )


class InviteSchema(FormSchema):
    email = email_field
    role = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf([r for r, _ in ROLE_CHOICES], error="Choose a role."),
    )


class RoleSchema(FormSchema):
    role = InviteSchema._declared_fields["role"]


class AcceptInvitationSchema(NewPasswordSchema):
    name = person_name
