"""HTML forms validated by the same marshmallow schemas style as the API.

`parse_form` returns the loaded data or the field errors to show next to each
input; a view re-renders its page with status 422 on errors, so nothing is
committed for a rejected form.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import marshmallow as ma
from flask import flash
from werkzeug.datastructures import MultiDict


class FormSchema(ma.Schema):
    """Blank optional inputs count as absent; unknown inputs (csrf_token) are ignored.
    Inputs are trimmed, except fields marked `metadata={"verbatim": True}` (passwords)."""

    class Meta:
        unknown = ma.EXCLUDE

    @ma.pre_load
    def _drop_blank(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        cleaned: dict[str, Any] = {}
        by_input_name = {f.data_key or name: f for name, f in self.fields.items()}
        for key, value in data.items():
            field = by_input_name.get(key)
            if isinstance(value, str) and not (field and field.metadata.get("verbatim")):
                value = value.strip()
            if value == "" and field is not None and not field.required:
                continue
            cleaned[key] = value
        return cleaned


def parse_form(
    schema: ma.Schema, form: MultiDict[str, str]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    raw = {key: form.get(key) for key in form.keys()}
    try:
        return schema.load(raw), {}
    except ma.ValidationError as exc:
        messages = exc.normalized_messages()
        return {}, {k: v if isinstance(v, list) else [str(v)] for k, v in messages.items()}


def run_action(action: Callable[[], Any], *, done: str | Callable[[Any], str]) -> bool:
    """Run a page's action. A refusal by a business rule becomes a flash message
    (and nothing is written); a missing object stays a 404. True on success.
    `done` is the success message, or makes it from what the action returned."""
    from referral.db import get_session
    from referral.errors import DomainError

    try:
        result = action()
    except DomainError as error:
        if error.status == 404:
            raise
        get_session().rollback()
        flash(error.message, "error")
        return False
    flash(done(result) if callable(done) else done, "success")
    return True
