"""An app under gunicorn on a free loopback port, and its workers' memory."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parents[1]
GUNICORN = Path(sys.executable).parent / "gunicorn"
# Method, path without the query, status, and the worker's time in microseconds:
# from reading the request to the response sent, so without the wait for a worker.
ACCESS_LOG_FORMAT = "%(m)s %(U)s %(s)s %(D)s"
GUNICORN_CONF = Path(__file__).resolve().parent / "gunicorn_conf.py"


class ServerFailed(RuntimeError):
    """Gunicorn exited or its workers did not load the app in time."""


@dataclass(frozen=True)
class WorkerSettings:
    """The same settings serve both apps, so only the app differs."""

    workers: int
    worker_class: str  # "sync" or "gthread"
    threads: int

    def describe(self) -> str:
        if self.worker_class == "gthread":
            return f"{self.workers} gthread workers x {self.threads} threads"
        return f"{self.workers} {self.worker_class} workers"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_pids(parent: int) -> list[int]:
    """Processes whose parent is `parent`, read from /proc (no procps needed)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # exited while we looked
        # The command name may hold spaces and parentheses: fields follow the last ')'.
        fields = text[text.rindex(")") + 2 :].split()
        if int(fields[1]) == parent:
            children.append(int(stat.parent.name))
    return sorted(children)


def rss_kib(pid: int) -> int:
    """Resident set size of a process (VmRSS in /proc/<pid>/status), in KiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    if match is None:
        raise ServerFailed(f"no VmRSS for process {pid}")
    return int(match.group(1))


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used (/proc/<pid>/stat); 0 once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class GunicornServer:
    """One WSGI app under gunicorn, bound to 127.0.0.1 on a free port.

    Used as a context manager: it starts gunicorn, waits until every worker has
    loaded the app, and stops the whole process tree on exit.
    """

    def __init__(
        self,
        name: str,
        app_spec: str,
        *,
        env: dict[str, str],
        settings: WorkerSettings,
        work_dir: Path,
        gunicorn: Path = GUNICORN,
        cwd: Path = ROOT,
        access_log: Path | None = None,
    ) -> None:
        """`gunicorn` and `cwd`: another environment's gunicorn and the directory its
        app imports from (bench/peer_djstripe.py's Django project). `access_log`:
        a line per request with the worker's own time for it (`ACCESS_LOG_FORMAT`)."""
        self.access_log = access_log
        self.name = name
        self.gunicorn = gunicorn
        self.cwd = cwd
        self.app_spec = app_spec
        self.env = env
        self.settings = settings
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ready_dir = work_dir / f"{name}-ready"
        self.log_path = work_dir / f"{name}-gunicorn.log"
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        args = [str(self.gunicorn), "--config", str(GUNICORN_CONF)]
        args += ["--bind", f"127.0.0.1:{self.port}", "--workers", str(self.settings.workers)]
        args += ["--worker-class", self.settings.worker_class, "--log-level", "warning"]
        if self.settings.worker_class == "gthread":
            args += ["--threads", str(self.settings.threads)]
        if self.access_log is not None:
            args += ["--access-logfile", str(self.access_log)]
            args += ["--access-logformat", ACCESS_LOG_FORMAT]
        return [*args, self.app_spec]

    def start(self) -> None:
        self.ready_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command(),
                cwd=self.cwd,
                env={**os.environ, **self.env, "BENCH_READY_DIR": str(self.ready_dir)},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, stopped as one
            )

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Return once each worker has loaded the app; raise with the log otherwise."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerFailed(
                    f"gunicorn for the {self.name} app exited ({self.process.returncode}):\n"
                    + self.log_tail()
                )
            if len(self.worker_pids()) >= self.settings.workers:
                return
            time.sleep(0.1)
        raise ServerFailed(
            f"the {self.name} app's workers did not load within {timeout:.0f} s:\n"
            + self.log_tail()
        )

    def worker_pids(self) -> list[int]:
        """Live workers that have loaded the app (a restarted worker reports again)."""
        if self.process is None:
            return []
        loaded = {int(p.name) for p in self.ready_dir.iterdir()}
        return [pid for pid in child_pids(self.process.pid) if pid in loaded]

    def worker_rss_kib(self) -> list[int]:
        return [rss_kib(pid) for pid in self.worker_pids()]

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def __enter__(self) -> GunicornServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
