"""Load generators: `wrk` when it is on PATH, else keep-alive HTTP clients in threads.

Both drive one URL with a fixed number of connections for a fixed time and
return the same `Load`. Errors are responses with status >= 400 (what wrk
counts as "Non-2xx or 3xx") plus socket errors; redirects are ruled out by
the harness's checks before any load is sent.

A `Stream` makes each request different (a POST that must create something
new every time): the Python client asks it for request n, and wrk runs the
Lua script the stream writes, which builds the same requests.
"""

from __future__ import annotations

import itertools
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.client import HTTPConnection, HTTPException
from typing import Protocol
from urllib.parse import urlsplit


class LoadFailed(RuntimeError):
    """The load generator is missing or did not run."""


@dataclass(frozen=True)
class Load:
    """What one timed run against one URL measured."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


class Stream(Protocol):
    """Requests numbered 0, 1, 2... that differ from one another; no number is
    sent twice, across runs too (`next_number` moves past every number used)."""

    method: str
    next_number: int

    def request(self, number: int) -> tuple[dict[str, str], bytes]:
        """The headers added to the run's, and the body, of request `number`."""
        ...

    def wrk_script(self, first: int) -> str:
        """A wrk Lua script sending the requests numbered from `first` on, each
        thread taking every `wrk_threads`-th number (the thread count is the
        script's first argument)."""
        ...


LoadRunner = Callable[..., Load]


@dataclass(frozen=True)
class Generator:
    """A named load generator: `run(url, headers, seconds, connections, stream=None)`."""

    name: str
    description: str
    run: LoadRunner
    whole_seconds: bool  # wrk takes a duration in whole seconds


def choose_generator(preference: str, *, wrk_threads: int) -> Generator:
    """`auto` picks wrk when it is on PATH; `wrk` fails when it is not."""
    wrk = shutil.which("wrk")
    if preference == "wrk" and wrk is None:
        raise LoadFailed("--generator wrk: wrk is not on PATH (apt-get install wrk)")
    if preference in ("auto", "wrk") and wrk is not None:
        version = _wrk_version(wrk)

        def run(
            url: str,
            headers: Mapping[str, str],
            seconds: float,
            connections: int,
            stream: Stream | None = None,
        ) -> Load:
            return run_wrk(
                url,
                headers,
                seconds,
                connections,
                threads=min(wrk_threads, connections),
                stream=stream,
            )

        return Generator("wrk", f"wrk {version}, {wrk_threads} thread(s)", run, True)
    return Generator(
        "python",
        "built-in Python client (http.client keep-alive, one thread per connection)",
        run_python_client,
        False,
    )


def _wrk_version(wrk: str) -> str:
    output = subprocess.run([wrk, "-v"], capture_output=True, text=True).stdout
    match = re.search(r"wrk\s+(\S+)", output)
    return match.group(1) if match else "(unknown version)"


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _duration_ms(value: str, unit: str) -> float:
    return float(value) * _UNITS_MS[unit]


def parse_wrk(output: str) -> Load:
    """Read requests, duration, p50/p99 latency and errors from `wrk --latency` output."""
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h)", output)
    p50 = re.search(r"^\s*50(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)", output, re.M)
    p99 = re.search(r"^\s*99(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)", output, re.M)
    if not (done and p50 and p99):
        raise LoadFailed(f"could not read wrk's output:\n{output}")
    errors = 0
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    bad_status = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if bad_status:
        errors += int(bad_status.group(1))
    return Load(
        requests=int(done.group(1)),
        seconds=_duration_ms(done.group(2), done.group(3)) / 1000,
        p50_ms=_duration_ms(*p50.groups()),
        p99_ms=_duration_ms(*p99.groups()),
        errors=errors,
    )


def run_wrk(
    url: str,
    headers: Mapping[str, str],
    seconds: float,
    connections: int,
    *,
    threads: int,
    stream: Stream | None = None,
) -> Load:
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s"]
    args += ["--latency", "--timeout", "10s"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    if stream is None:
        completed = subprocess.run([*args, url], capture_output=True, text=True)
    else:
        first = stream.next_number
        with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="bench-") as script:
            script.write(stream.wrk_script(first))
            script.flush()
            completed = subprocess.run(
                [*args, "-s", script.name, url, "--", str(threads)],
                capture_output=True,
                text=True,
            )
    if completed.returncode != 0:
        raise LoadFailed(f"wrk failed ({completed.returncode}): {completed.stderr.strip()}")
    load = parse_wrk(completed.stdout)
    if stream is not None:
        # wrk counts answered requests; up to one more per connection was sent
        # unanswered, and the threads' numbers interleave: skip well past all.
        stream.next_number = first + threads * (load.requests + load.errors + connections + 1)
    return load


def percentile(ordered: list[float], fraction: float) -> float:
    """The nearest-rank percentile of an already sorted list."""
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def run_python_client(
    url: str,
    headers: Mapping[str, str],
    seconds: float,
    connections: int,
    stream: Stream | None = None,
) -> Load:
    """One thread per connection, each sending GETs back to back until time is up.

    http.client reuses the connection while the server keeps it alive and
    reconnects when the server closes it (gunicorn's sync workers close after
    every response), as wrk does. The client shares the GIL, so it saturates
    sooner than wrk: the same client drives both apps, but a fast bare app may
    be limited by it, which flatters the ratios.
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    timings: list[list[float]] = []
    failures: list[int] = []
    lock = threading.Lock()
    start_line = threading.Barrier(connections + 1)
    stop_at = 0.0
    numbers = itertools.count(stream.next_number if stream else 0)
    method = stream.method if stream else "GET"

    def client() -> None:
        connection = HTTPConnection(host, port, timeout=10)
        mine: list[float] = []
        failed = 0
        start_line.wait()
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            try:
                if stream is None:
                    connection.request("GET", path, headers=dict(headers))
                else:
                    extra, body = stream.request(next(numbers))
                    connection.request(method, path, body=body, headers={**headers, **extra})
                response = connection.getresponse()
                response.read()
            except (OSError, HTTPException):
                failed += 1
                connection.close()
                continue
            mine.append((time.perf_counter() - started) * 1000)
            failed += response.status >= 400
        connection.close()
        with lock:
            timings.append(mine)
            failures.append(failed)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(connections)]
    for thread in threads:
        thread.start()
    began = time.monotonic()
    stop_at = began + seconds
    start_line.wait()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    if stream is not None:
        stream.next_number = next(numbers)
    ordered = sorted(t for per_thread in timings for t in per_thread)
    return Load(
        requests=len(ordered),
        seconds=elapsed,
        p50_ms=statistics.median(ordered) if ordered else 0.0,
        p99_ms=percentile(ordered, 0.99),
        errors=sum(failures),
    )
