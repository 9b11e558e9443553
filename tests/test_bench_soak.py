"""The soak's report tells a stall (every endpoint slow at once) from a slow endpoint."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from bench.soak_client import Recorder, SlowSecond, Window
from bench.soak_watch import (
    ROLES,
    CpuSample,
    MachineWatch,
    cpu_ticks,
    host_ticks,
    process_name,
    role_of,
    server_times,
)


def test_a_stall_raises_the_median_of_its_second_and_a_slow_page_only_the_max() -> None:
    recorder = Recorder()
    for label in ("GET /", "GET /api/v1/me", "POST /stripe/webhook"):
        recorder.add(label, 100.2, 8.0, True)  # second 0: quick
        recorder.add(label, 101.5, 1_100.0, True)  # second 1: a stall holds them all
    recorder.add("GET /analytics", 102.1, 300.0, True)  # second 2: one slow page
    recorder.add("GET /", 102.4, 10.0, True)

    slowest = recorder.slowest_seconds(100.0, 103.0, count=2)

    assert slowest == [
        SlowSecond(second=1, requests=3, endpoints=3, median_ms=1_100.0, max_ms=1_100.0),
        SlowSecond(second=2, requests=2, endpoints=2, median_ms=10.0, max_ms=300.0),
    ]


def test_the_load_over_time_shows_whether_it_slowed_as_it_went_on() -> None:
    recorder = Recorder()
    for moment in range(20):  # a request every second, each slower than the last
        recorder.add("GET /", 100.0 + moment, 10.0 + moment, True)

    assert recorder.windows(100.0, 120.0, 10) == [
        Window(start=0, seconds=10, requests=10, median_ms=14.0, p99_ms=19.0),
        Window(start=10, seconds=10, requests=10, median_ms=24.0, p99_ms=29.0),
    ]


def _hold_until_seen(watch: MachineWatch, *, within: float = 20.0) -> float:
    """Keep the lock until the watch has seen the wait in three samples within
    a second of first seeing it, and taken ten samples in all; when it first
    saw it. On a busy machine a sample can take longer than its interval, so a
    fixed sleep saw too few (9 of 10 on CI)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        seen = [wait.at for wait in watch.waits]
        if seen and sum(at <= seen[0] + 1.0 for at in seen) >= 3 and len(watch.cpu) >= 10:
            return seen[0]
        time.sleep(0.05)
    raise AssertionError(f"the watch saw {len(watch.waits)} waits in {len(watch.cpu)} samples")


def test_the_machine_watch_names_who_waited_on_a_lock_and_for_whom(postgres_schema: str) -> None:
    dsn = make_url(postgres_schema).set(drivername="postgresql").render_as_string(False)
    watch = MachineWatch(postgres_schema, interval=0.05).start()
    started = time.monotonic()
    with psycopg.connect(dsn) as holder, psycopg.connect(dsn, autocommit=True) as waiter:
        holder.execute("select pg_advisory_xact_lock(424242)")
        waiting = threading.Thread(
            target=lambda: waiter.execute("select pg_advisory_lock(424242)"), daemon=True
        )
        waiting.start()
        first_seen = _hold_until_seen(watch)
        holder.commit()  # releases the lock: the waiter goes on
        waiting.join(timeout=5)
        waiter.execute("select pg_advisory_unlock(424242)")
    watch.stop()

    second = watch.second(first_seen)  # the wait's first second
    assert (
        "select pg_advisory_lock(424242)",
        "idle in transaction after: select pg_advisory_xact_lock(424242)",
    ) == second.lock_waits[0][:2]
    assert second.lock_waits[0][2] >= 3  # seen in several samples, not once by chance
    # The holder, named by its statement (later samples may catch it committing).
    assert any(what.endswith("xact_lock(424242)") for what, _age in second.long_transactions)
    assert set(second.cpu_percent) == set(ROLES)
    summary = watch.summary(started, time.monotonic())
    assert summary["lock waits seen"] >= 3
    assert summary["samples"] >= 10


def test_a_second_of_the_machine_adds_up_cpu_per_role_and_the_host_s_steal() -> None:
    watch = MachineWatch("postgresql://unused")
    # Two half-second samples: web workers busy on one CPU, the host stealing 10%.
    for at in (100.5, 101.0):
        watch.cpu.append(
            CpuSample(at, 0.5, {"web": 0.5, "postgres": 0.1}, host_total=100, iowait=0, steal=10)
        )
    watch.cpu.append(
        CpuSample(101.5, 0.5, {"jobs": 0.5, "other": 0.2}, 100, 50, 0, others={"mypy": 0.2})
    )

    second = watch.second(100.0)

    assert second.cpu_percent == {"web": 100, "jobs": 0, "postgres": 20, "harness": 0, "other": 0}
    assert second.busiest_others == []
    assert watch.second(100.5).busiest_others == [("mypy", 20)]  # what else ran, by name
    assert second.steal_percent == 10.0
    assert second.iowait_percent == 0.0


def test_processes_are_told_apart_by_their_command_line() -> None:
    assert role_of(os.getpid(), harness_pid=os.getpid()) == "harness"
    assert process_name(2) == "[kthreadd]"  # a kernel thread, by its name
    assert role_of(os.getpid(), harness_pid=-1) == "other"  # pytest is none of the soak's parts
    assert (cpu_ticks(os.getpid()) or 0) >= 0
    total, iowait, steal = host_ticks()
    assert total > iowait >= 0 and steal >= 0


def test_the_workers_own_times_are_read_per_endpoint_from_the_access_log(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text("GET /api/v1/me 200 900\n")  # before the load: not counted
    began = log.stat().st_size
    with log.open("a") as lines:
        lines.write("GET /referrals/42 200 12500\n")
        lines.write("POST /api/v1/referrals/ref_9x/accept 200 3000\n")
        lines.write("GET /referrals/inbox 200 8000\n")
        lines.write("GET /referrals/77 200 2500\n")

    times = server_times(log, began, log.stat().st_size)

    assert times == {
        "GET /referrals/{id}": [2.5, 12.5],
        "POST /api/v1/referrals/{id}/accept": [3.0],
        "GET /referrals/inbox": [8.0],
    }
