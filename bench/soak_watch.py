"""What the machine and the database were doing during the soak, so that a
stall holding every endpoint can be told apart: the host taking the CPUs away
(steal time), one kind of process using them (web workers, job workers,
PostgreSQL, the harness itself), or requests waiting on a row lock.

A thread samples every `interval` seconds:
- the CPU time each role's processes used, from `/proc/<pid>/stat`;
- the host's steal and I/O wait, from `/proc/stat`;
- the database's client backends (`pg_stat_activity`): who waits on a lock and
  for whom, and which transactions have been open longer than 100 ms.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

ROLES = ("web", "jobs", "postgres", "harness", "other")
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
LONG_TRANSACTION_MS = 100.0
_VERSION = re.compile(r"v\d+")

_BACKENDS = """
select a.pid, a.state, a.wait_event_type, left(regexp_replace(a.query, '\\s+', ' ', 'g'), 90),
       extract(epoch from clock_timestamp() - a.xact_start) * 1000, pg_blocking_pids(a.pid)
from pg_stat_activity a
where a.datname = current_database() and a.pid <> pg_backend_pid()
  and a.backend_type = 'client backend'
"""


def role_of(pid: int, harness_pid: int) -> str:
    """Which part of the soak a process is, from its command line: the harness
    is the load generator with the Stripe stand-in it starts."""
    if pid == harness_pid:
        return "harness"
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        name = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "other"
    if b"stripe_standin" in command:
        return "harness"
    if b"gunicorn" in command:
        return "web"
    if b" worker" in command and b"referral" in command:
        return "jobs"
    if name == "postgres":
        return "postgres"
    return "other"


def cpu_ticks(pid: int) -> int | None:
    """User plus system CPU time of a process, in clock ticks."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # the name may hold spaces
    return int(fields[11]) + int(fields[12])


def host_ticks() -> tuple[int, int, int]:
    """All CPUs' ticks since boot: total, I/O wait, stolen by the host."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    iowait, steal = values[4], values[7] if len(values) > 7 else 0
    return sum(values[:8]), iowait, steal


@dataclass
class CpuSample:
    at: float  # monotonic, the end of the interval
    seconds: float  # the interval's length
    by_role: dict[str, float]  # CPU seconds used in the interval
    host_total: int
    iowait: int
    steal: int
    others: dict[str, float] = field(default_factory=dict)  # "other" CPU seconds by name


@dataclass
class LockWait:
    at: float
    waiting: str  # the waiting statement
    blocked_by: str  # the blocker's statement (or its state when idle in transaction)


@dataclass
class SecondOfMachine:
    """The machine during one second of the load."""

    cpu_percent: dict[str, float]  # of one CPU, per role
    steal_percent: float  # of all CPUs
    iowait_percent: float
    lock_waits: list[tuple[str, str, int]]  # waiting, blocked by, samples
    long_transactions: list[tuple[str, float]]  # statement, longest age seen
    busiest_others: list[tuple[str, float]]  # processes outside the soak, % of one CPU


@dataclass
class MachineWatch:
    database_url: str
    interval: float = 0.2
    harness_pid: int = field(default_factory=os.getpid)
    cpu: list[CpuSample] = field(default_factory=list)
    waits: list[LockWait] = field(default_factory=list)
    transactions: list[tuple[float, str, float]] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="machine-watch", daemon=True)
        self._roles: dict[int, str] = {}
        self._names: dict[int, str] = {}
        self._connection: psycopg.Connection | None = None

    def start(self) -> MachineWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            previous = self._processes()
            previous_host, previous_at = host_ticks(), time.monotonic()
            while not self._stop.wait(self.interval):
                now = time.monotonic()
                current = self._processes()
                used: dict[str, float] = defaultdict(float)
                others: dict[str, float] = defaultdict(float)
                for pid, ticks in current.items():
                    if pid in previous:  # a new process's earlier time is not this interval's
                        seconds = (ticks - previous[pid]) / TICKS_PER_SECOND
                        used[self._roles[pid]] += seconds
                        if self._roles[pid] == "other" and seconds:
                            others[self._names[pid]] += seconds
                host = host_ticks()
                self.cpu.append(
                    CpuSample(
                        now,
                        now - previous_at,
                        dict(used),
                        *(a - b for a, b in zip(host, previous_host, strict=True)),
                        others=dict(others),
                    )
                )
                previous, previous_host, previous_at = current, host, now
                self._sample_database(now)
        finally:
            if self._connection is not None:
                self._connection.close()

    def _processes(self) -> dict[int, int]:
        ticks = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            used = cpu_ticks(pid)
            if used is None:
                continue
            if pid not in self._roles:
                self._roles[pid] = role_of(pid, self.harness_pid)
                self._names[pid] = process_name(pid)
            ticks[pid] = used
        return ticks

    def _sample_database(self, now: float) -> None:
        try:
            if self._connection is None:
                url = make_url(self.database_url).set(drivername="postgresql")
                self._connection = psycopg.connect(
                    url.render_as_string(hide_password=False), autocommit=True, connect_timeout=2
                )
            rows = self._connection.execute(_BACKENDS).fetchall()
        except psycopg.Error as error:  # the faults restart the database: connect again
            self.errors[type(error).__name__] += 1
            if self._connection is not None:
                self._connection.close()
            self._connection = None
            return
        by_pid = {row[0]: row for row in rows}
        for _pid, state, wait_type, query, age_ms, blockers in rows:
            if wait_type == "Lock":
                for blocker in blockers:
                    held = by_pid.get(blocker)
                    what = "?" if held is None else _describe(held[1], held[3])
                    self.waits.append(LockWait(now, query, what))
            if age_ms is not None and age_ms > LONG_TRANSACTION_MS:
                self.transactions.append((now, _describe(state, query), float(age_ms)))

    def second(self, start: float) -> SecondOfMachine:
        """What the machine did from `start` (monotonic) for one second."""
        end = start + 1.0
        samples = [s for s in self.cpu if start < s.at <= end + self.interval / 2]
        cpu_percent, steal, iowait = _cpu_shares(samples)
        longest: dict[str, float] = {}
        for at, what, age in self.transactions:
            if start <= at <= end:
                longest[what] = max(age, longest.get(what, 0.0))
        others: Counter[str] = Counter()
        for sample in samples:
            others.update(sample.others)
        seconds = sum(s.seconds for s in samples) or 1.0
        return SecondOfMachine(
            cpu_percent=cpu_percent,
            steal_percent=round(steal, 1),
            iowait_percent=round(iowait, 1),
            lock_waits=[(w, b, n) for (w, b), n in self._waits(start, end).most_common(3)],
            long_transactions=sorted(longest.items(), key=lambda kv: -kv[1])[:3],
            busiest_others=[
                (name, round(100 * used / seconds)) for name, used in others.most_common(3)
            ],
        )

    def summary(self, since: float, until: float) -> dict:
        """The whole load: CPU per role, steal, and the commonest lock waits."""
        samples = [s for s in self.cpu if since < s.at <= until]
        cpu_percent, steal, iowait = _cpu_shares(samples)
        waits = self._waits(since, until)
        return {
            "cpu percent of one CPU": cpu_percent,
            "steal percent": round(steal, 2),
            "iowait percent": round(iowait, 2),
            "samples": len(samples),
            "lock waits seen": sum(waits.values()),
            "commonest lock waits": [
                {"waiting": w, "blocked by": b, "samples": n} for (w, b), n in waits.most_common(5)
            ],
            "transactions over 100 ms seen": sum(
                since <= at <= until for at, _, _ in self.transactions
            ),
            "sampling errors": dict(self.errors),
        }

    def _waits(self, since: float, until: float) -> Counter[tuple[str, str]]:
        """(waiting, blocked by) -> the samples that saw it, in [since, until]."""
        return Counter((w.waiting, w.blocked_by) for w in self.waits if since <= w.at <= until)


def _cpu_shares(samples: list[CpuSample]) -> tuple[dict[str, int], float, float]:
    """Each role's CPU as a percentage of one CPU, and the host's steal and I/O
    wait as percentages of all CPUs, over the samples."""
    seconds = sum(s.seconds for s in samples) or 1.0
    host_total = sum(s.host_total for s in samples) or 1
    by_role = {
        role: round(100 * sum(s.by_role.get(role, 0.0) for s in samples) / seconds)
        for role in ROLES
    }
    steal = 100 * sum(s.steal for s in samples) / host_total
    iowait = 100 * sum(s.iowait for s in samples) / host_total
    return by_role, steal, iowait


def process_name(pid: int) -> str:
    """A process's name and the start of its arguments, to say what it is."""
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if not words[0]:  # a kernel thread has no command line: its name, as ps shows it
            return f"[{Path(f'/proc/{pid}/comm').read_text().strip()}]"
    except OSError:
        return "?"
    shown = [Path(words[0].decode(errors="replace")).name] + [
        w.decode(errors="replace") for w in words[1:3] if w
    ]
    return " ".join(shown)[:60]


def _describe(state: str | None, query: str) -> str:
    if state == "idle in transaction":
        return f"idle in transaction after: {query}"
    return query


def endpoint_label(method: str, path: str) -> str:
    """The soak's label for a request: a path segment holding a digit is an id
    (but not the API's version, `v1`)."""
    segments = [
        "{id}" if any(c.isdigit() for c in part) and not _VERSION.fullmatch(part) else part
        for part in path.split("/")
    ]
    return f"{method} {'/'.join(segments)}"


def server_times(access_log: Path, start: int, end: int) -> dict[str, list[float]]:
    """The workers' own milliseconds per endpoint, from the access log's bytes
    [start, end) (written in `servers.ACCESS_LOG_FORMAT`)."""
    with access_log.open("rb") as log:
        log.seek(start)
        lines = log.read(max(end - start, 0)).decode(errors="replace").splitlines()
    times: dict[str, list[float]] = defaultdict(list)
    for line in lines:
        parts = line.split()
        if len(parts) == 4 and parts[3].isdigit():
            method, path, _status, micros = parts
            times[endpoint_label(method, path)].append(int(micros) / 1000)
    return {label: sorted(each) for label, each in times.items()}
