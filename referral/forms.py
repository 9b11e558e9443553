"""HTML forms validated by the same marshmallow schemas style as the API.

`parse_form` returns the loaded data or the field errors to show next to each
input; a view re-renders its page with status 422 on errors, so nothing is
committed for a rejected form.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from werkzeug.datastructures import MultiDict


class FormSchema(ma.Schema):
    """Blank optional inputs count as absent; unknown inputs (csrf_token) are ignored."""

    class Meta:
        unknown = ma.EXCLUDE

    @ma.pre_load
    def _drop_blank(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        cleaned: dict[str, Any] = {}
        by_input_name = {f.data_key or name: f for name, f in self.fields.items()}
        for key, value in data.items():
            if isinstance(value, str):
                value = value.strip()
            field = by_input_name.get(key)
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
