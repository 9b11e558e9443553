"""Text put into CSV files that people open in spreadsheets."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence

from flask import Response, current_app, stream_with_context
from sqlmodel import Session

# What spreadsheets run as a formula when a cell starts with it (OWASP).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralised(text: str) -> str:
    """`text` as a cell no spreadsheet runs: quoted when it starts like a formula."""
    return "'" + text if text.startswith(FORMULA_START) else text


def restored(text: str) -> str:
    """The inverse of `neutralised`, for a cell read back from an exported file."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_START) else text


# Rows written to the client at a time: the export starts at once and never
# holds more than this many rows in memory.
CHUNK_ROWS = 500


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """CSV text a chunk at a time: the header, then `rows` (read lazily, e.g. a
    database result with `yield_per`), every text cell neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for n, row in enumerate(rows, 1):
        writer.writerow([neutralised(cell) if isinstance(cell, str) else cell for cell in row])
        if n % CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_download(
    filename: str,
    header: Sequence[str],
    rows_of: Callable[[Session], Iterable[Sequence[object]]],
) -> Response:
    """A streamed CSV attachment of `rows_of(session)`, read a batch at a time
    (`yield_per`) and sent a chunk at a time, so the first bytes leave before
    the query has been read to its end and no more than a batch of rows is
    held in memory.

    The rows are read with a session of the stream's own, opened when the
    first chunk is asked for and closed (its read-only transaction ended) when
    the last is sent or the client goes away, rather than the request's
    session, which the request commits and closes before its body is sent
    (referral/db.py). The request context stays with the stream
    (`stream_with_context`), so times are in the business's zone."""
    bind = current_app.extensions["db_engine"]

    def stream() -> Iterator[str]:
        with Session(bind, expire_on_commit=False) as session:
            try:
                yield from csv_chunks(header, rows_of(session))
            finally:
                session.rollback()

    return Response(
        stream_with_context(stream()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
