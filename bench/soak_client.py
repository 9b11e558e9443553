"""The soak's HTTP client and what it records: every request's endpoint,
time, latency and whether it got the answer it expected.

Requests are labelled by endpoint ("GET /referrals/{id}"), so the report gives
throughput and p50/p95/p99 per endpoint. An error is a socket error or an
answer other than the expected one; errors that began inside a fault window
(a database restart, give or take a grace period) are counted apart.
"""

from __future__ import annotations

import gc
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from email.message import Message
from http.client import HTTPConnection, HTTPException, RemoteDisconnected
from urllib.parse import urlsplit

from bench.load import percentile


@dataclass(frozen=True)
class Response:
    status: int
    headers: Message
    body: bytes


@dataclass(frozen=True)
class Sample:
    label: str
    began: float  # time.monotonic()
    ms: float
    ok: bool


@dataclass(frozen=True)
class Failure:
    label: str
    began: float
    what: str


@dataclass(frozen=True)
class EndpointFigures:
    label: str
    requests: int
    per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int  # outside fault windows
    errors_in_faults: int


class CollectorPauses:
    """The load generator's own garbage collections while they are watched:
    every client thread waits one out, and the requests due meanwhile count
    the wait as the app's latency."""

    def __init__(self) -> None:
        self.pauses_ms: list[float] = []
        self._started: float | None = None

    def __enter__(self) -> CollectorPauses:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started is not None:
            self.pauses_ms.append((time.perf_counter() - self._started) * 1000)
            self._started = None


@dataclass(frozen=True)
class SlowSecond:
    """One second of the load: the requests due in it, and how long they took."""

    second: int  # from the start of the load
    requests: int
    endpoints: int
    median_ms: float
    max_ms: float


@dataclass(frozen=True)
class Window:
    """The requests due in [start, start + seconds) of the load, and how long they took."""

    start: int  # seconds from the start of the load
    seconds: int
    requests: int
    median_ms: float
    p99_ms: float


@dataclass
class Recorder:
    """Thread-safe: every client thread adds to it."""

    samples: list[Sample] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    fault_windows: list[tuple[float, float]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, label: str, began: float, ms: float, ok: bool, what: str = "") -> None:
        with self._lock:
            self.samples.append(Sample(label, began, ms, ok))
            if not ok:
                self.failures.append(Failure(label, began, what))

    def fail(self, label: str, what: str) -> None:
        """A wrong answer found after the request was recorded (a body check)."""
        with self._lock:
            self.failures.append(Failure(label, time.monotonic(), what))

    def in_fault(self, moment: float, grace: float) -> bool:
        return any(start - 1 <= moment <= end + grace for start, end in self.fault_windows)

    def counted_failures(self, grace: float) -> tuple[list[Failure], list[Failure]]:
        """(failures outside fault windows, failures inside them)."""
        with self._lock:
            failures = list(self.failures)
        outside = [f for f in failures if not self.in_fault(f.began, grace)]
        inside = [f for f in failures if self.in_fault(f.began, grace)]
        return outside, inside

    def figures(self, since: float, until: float, grace: float) -> list[EndpointFigures]:
        """Per endpoint, for requests begun in [since, until]."""
        with self._lock:
            samples = [s for s in self.samples if since <= s.began <= until]
        outside, inside = self.counted_failures(grace)
        errors = defaultdict(int, _count(outside, since, until))
        in_faults = defaultdict(int, _count(inside, since, until))
        by_label: dict[str, list[float]] = defaultdict(list)
        for sample in samples:
            by_label[sample.label].append(sample.ms)
        seconds = max(until - since, 1e-9)
        return [
            EndpointFigures(
                label=label,
                requests=len(times),
                per_second=len(times) / seconds,
                p50_ms=percentile(sorted(times), 0.50),
                p95_ms=percentile(sorted(times), 0.95),
                p99_ms=percentile(sorted(times), 0.99),
                errors=errors[label],
                errors_in_faults=in_faults[label],
            )
            for label, times in sorted(by_label.items())
        ]

    def slowest_seconds(self, since: float, until: float, count: int = 3) -> list[SlowSecond]:
        """The seconds whose requests took longest (by their median): a stall
        holds the requests of every endpoint due in it, a slow endpoint only
        its own, and the tail figures alone do not tell the two apart."""
        seconds = []
        for second, in_it in self._by_window(since, until, 1).items():
            times = sorted(sample.ms for sample in in_it)
            seconds.append(
                SlowSecond(
                    second=second,
                    requests=len(in_it),
                    endpoints=len({sample.label for sample in in_it}),
                    median_ms=percentile(times, 0.50),
                    max_ms=times[-1],
                )
            )
        return sorted(seconds, key=lambda each: each.median_ms, reverse=True)[:count]

    def windows(self, since: float, until: float, width: int) -> list[Window]:
        """The load in windows of `width` seconds, in order: whether it got
        slower as the data grew, or only in a few bursts."""
        windows = []
        for number, in_it in sorted(self._by_window(since, until, width).items()):
            times = sorted(sample.ms for sample in in_it)
            windows.append(
                Window(
                    start=number * width,
                    seconds=width,
                    requests=len(in_it),
                    median_ms=percentile(times, 0.50),
                    p99_ms=percentile(times, 0.99),
                )
            )
        return windows

    def _by_window(self, since: float, until: float, width: int) -> dict[int, list[Sample]]:
        with self._lock:
            samples = [s for s in self.samples if since <= s.began <= until]
        by_window: dict[int, list[Sample]] = defaultdict(list)
        for sample in samples:
            by_window[int((sample.began - since) // width)].append(sample)
        return by_window


def _count(failures: list[Failure], since: float, until: float) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for failure in failures:
        if since <= failure.began <= until:
            counts[failure.label] += 1
    return counts


class Pacer:
    """An offered load: request n of all threads together is due at start + n / rate,
    whether or not the server kept up (an open model, as users arrive). A
    request's latency counts from when it was due, so time spent waiting for a
    client thread behind a slow answer is counted too, not left out
    ("coordinated omission")."""

    def __init__(self, rate: float) -> None:
        self.interval = 1 / rate
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            self._next = time.monotonic()

    def due(self) -> float:
        """When the caller's next request is due (monotonic); it waits until then."""
        with self._lock:
            due, self._next = self._next, self._next + self.interval
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        return due


# What a request on a connection the server had already closed fails with.
IDLE_CLOSED = (BrokenPipeError, ConnectionResetError, RemoteDisconnected)


class Http:
    """One keep-alive connection (gunicorn's sync workers close it after each
    answer; http.client opens a new one for the next request). One per thread.
    With a pacer, each request waits for its turn in the offered load."""

    def __init__(
        self,
        base_url: str,
        recorder: Recorder | None,
        timeout: float = 30,
        pacer: Pacer | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        self.connection = HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
        self.recorder = recorder
        self.pacer = pacer

    def call(
        self,
        label: str,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        expect: tuple[int, ...] = (200,),
    ) -> Response | None:
        """The answer, or None after a socket error; recorded either way. A
        kept-alive connection the server closed while idle is opened again and
        the request sent once more, as HTTP clients do: the server read none
        of it (gthread workers close idle connections after their keep-alive)."""
        began = time.monotonic() if self.pacer is None else self.pacer.due()
        started = time.perf_counter() - (time.monotonic() - began)
        for attempt in (1, 2):
            reused = self.connection.sock is not None
            try:
                self.connection.request(method, path, body=body, headers=headers or {})
                raw = self.connection.getresponse()
                response = Response(raw.status, raw.headers, raw.read())
                break
            except (OSError, HTTPException) as error:
                self.connection.close()
                if attempt == 1 and reused and isinstance(error, IDLE_CLOSED):
                    continue
                self._record(label, began, started, False, f"{type(error).__name__}: {error}")
                return None
        ok = response.status in expect
        what = "" if ok else f"{response.status}: {response.body[:300]!r}"
        self._record(label, began, started, ok, what)
        return response

    def _record(self, label: str, began: float, started: float, ok: bool, what: str) -> None:
        if self.recorder is not None:
            ms = (time.perf_counter() - started) * 1000
            self.recorder.add(label, began, ms, ok, what)

    def close(self) -> None:
        self.connection.close()
