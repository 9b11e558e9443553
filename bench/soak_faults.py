"""Job workers under supervision, and the faults the soak injects into a run.

`JobWorkers` runs `referral worker` processes and, like a process manager,
starts again any that exits. `Faults` (with --faults) kills a random worker
with SIGKILL every few seconds, restarts the throwaway PostgreSQL server
(fast, then immediate, alternately) at planned moments, and makes the Stripe
stand-in fail a share of its API requests with a 500.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.seed import REFERRAL_CLI, ROOT
from bench.soak_client import Recorder
from bench.soak_cluster import ThrowawayCluster
from tests.support.stripe_standin import StripeStandIn

CLAIM = re.compile(r"claimed job (\d+) \(")
FINISHED = "job {id} ("  # "job 12 (kind) done" or "job 12 (kind) failed ..."


class JobWorkers:
    def __init__(self, count: int, env: dict[str, str], work_dir: Path, nice: int = 0) -> None:
        self.env = env
        self.nice = nice
        self.logs = [work_dir / f"worker-{n}.log" for n in range(count)]
        self.processes: list[subprocess.Popen[bytes] | None] = [None] * count
        self.killed_pids: set[int] = set()
        self.unexpected_exits: list[tuple[int, int]] = []  # (worker, exit code)
        self.starts = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._watcher = threading.Thread(target=self._watch, daemon=True)

    def _launch(self, index: int) -> None:
        with self.logs[index].open("ab") as log:
            self.processes[index] = subprocess.Popen(
                [str(REFERRAL_CLI), "worker", "--poll-interval", "0.1"],
                cwd=ROOT,
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=(lambda: os.nice(self.nice)) if self.nice else None,  # noqa: PLW1509
            )
        self.starts += 1

    def start(self) -> JobWorkers:
        with self._lock:
            for index in range(len(self.processes)):
                self._launch(index)
        self._watcher.start()
        return self

    def _watch(self) -> None:
        """Start again every worker that exited, killed or not."""
        while not self._stopping.wait(0.25):
            with self._lock:
                for index, process in enumerate(self.processes):
                    if process is None or process.poll() is None:
                        continue
                    if process.pid not in self.killed_pids:
                        self.unexpected_exits.append((index, process.returncode))
                    self._launch(index)

    def kill_one(self, rng: random.Random) -> bool:
        """SIGKILL a random worker; True when it had a job under way (claimed,
        not yet finished, by its log). The watcher starts it again."""
        with self._lock:
            index = rng.randrange(len(self.processes))
            process = self.processes[index]
            if process is None or process.poll() is not None:
                return False
            self.killed_pids.add(process.pid)
            process.kill()
            process.wait()
        return self._mid_job(self.logs[index])

    @staticmethod
    def _mid_job(log: Path) -> bool:
        text = log.read_text(errors="replace")[-20_000:]
        claims = CLAIM.findall(text)
        if not claims:
            return False
        last = claims[-1]
        after_claim = text[text.rindex(f"claimed job {last} (") :].partition("\n")[2]
        return FINISHED.format(id=last) not in after_claim

    def stop(self) -> None:
        self._stopping.set()
        self._watcher.join(timeout=5)
        with self._lock:
            live = [p for p in self.processes if p is not None and p.poll() is None]
            for process in live:
                process.send_signal(signal.SIGTERM)
            for process in live:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    def log_text(self) -> str:
        return "".join(log.read_text(errors="replace") for log in self.logs if log.exists())


@dataclass
class FaultLog:
    kills: int = 0
    kills_mid_job: int = 0
    restarts: list[tuple[float, float, str]] = field(default_factory=list)  # (began, back, mode)
    standin_error_rate: float = 0.0


class Faults:
    """Runs in two threads from `start` until `stop`."""

    def __init__(
        self,
        *,
        workers: JobWorkers,
        standin: StripeStandIn,
        cluster: ThrowawayCluster | None,
        recorder: Recorder,
        restart_at: list[float],  # seconds after start
        kill_every: float,
        standin_error_rate: float,
        down_seconds: float,
        seed: int,
    ) -> None:
        self.workers, self.standin, self.cluster = workers, standin, cluster
        self.recorder = recorder
        self.restart_at, self.kill_every = restart_at, kill_every
        self.standin_error_rate, self.down_seconds = standin_error_rate, down_seconds
        self.log = FaultLog(standin_error_rate=standin_error_rate)
        self.errors: list[str] = []
        self._rng = random.Random(seed)
        self._stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._kill_workers, daemon=True),
            threading.Thread(target=self._restart_database, daemon=True),
        ]

    def start(self) -> Faults:
        if self.standin_error_rate:
            self.standin.add_fault(
                "error_500", method=None, count=None, rate=self.standin_error_rate, seed=7
            )
        self._began = time.monotonic()
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=90)
        self.standin.clear_faults()

    def _kill_workers(self) -> None:
        while not self._stopping.wait(self.kill_every * self._rng.uniform(0.5, 1.5)):
            self.log.kills += 1
            self.log.kills_mid_job += self.workers.kill_one(self._rng)

    def _restart_database(self) -> None:
        if self.cluster is None:
            return
        for number, offset in enumerate(self.restart_at):
            if self._stopping.wait(max(0.0, self._began + offset - time.monotonic())):
                return
            mode = ("fast", "immediate")[number % 2]
            began = time.monotonic()
            # Open until the server is back, so progress lines count the errors
            # of an outage under way as the outage's.
            window = len(self.recorder.fault_windows)
            self.recorder.fault_windows.append((began, float("inf")))
            try:
                self.cluster.restart(mode, down_seconds=self.down_seconds)
            except Exception as error:  # reported; the run's checks then fail
                self.errors.append(f"PostgreSQL restart ({mode}) failed: {error}")
                self.recorder.fault_windows[window] = (began, time.monotonic())
                return
            back = time.monotonic()
            self.log.restarts.append((began, back, mode))
            self.recorder.fault_windows[window] = (began, back)
