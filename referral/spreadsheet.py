"""Text put into CSV files that people open in spreadsheets."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence

from flask import Response

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
    filename: str, header: Sequence[str], rows: Iterable[Sequence[object]]
) -> Response:
    """A streamed CSV attachment: the request (and its database session) stays
    open while the rows are written."""
    # Built whole for now: a streamed body kept the request's database
    # transaction open until the client closed it, which held locks on PostgreSQL.
    return Response(
        "".join(csv_chunks(header, rows)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
