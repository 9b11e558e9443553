"""Object ids: the range they take in URLs and in input.

Primary keys are 32-bit integer columns, so a larger number names nothing: it
is refused as input (422) or matches no route (404) instead of reaching the
database, where SQLite cannot even bind a number past 64 bits."""

from __future__ import annotations

import marshmallow as ma
from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """The `int` URL converter, bounded to the ids that can exist (the API spec
    shows the bounds)."""

    def __init__(self, map, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]  # noqa: A002
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


class IdField(ma.fields.Integer):
    """An input field naming an object by its id: in JSON an integer, never a
    string or a float (`strict=False` for a query string, where all is text)."""

    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        kwargs.setdefault("validate", ma.validate.Range(min=1, max=MAX_ID))
        kwargs.setdefault("strict", True)
        super().__init__(**kwargs)
