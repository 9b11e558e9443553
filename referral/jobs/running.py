"""The job being run in this thread, if any: known to the queue (a job
queueing its own successor) and to handlers, set by the worker."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int


_current_job: contextvars.ContextVar[ClaimedJob | None] = contextvars.ContextVar(
    "current_job", default=None
)


def current_job() -> ClaimedJob | None:
    """The job whose handler is running in this thread, if any."""
    return _current_job.get()


@contextlib.contextmanager
def running(job: ClaimedJob) -> Iterator[None]:
    """`current_job()` is `job` inside the block (the worker runs its handler there)."""
    token = _current_job.set(job)
    try:
        yield
    finally:
        _current_job.reset(token)
