"""A throwaway PostgreSQL cluster for one soak run: its own data directory,
port and socket, so restarting it mid-run disturbs nobody else.

Debian's server binaries (/usr/lib/postgresql/<version>/bin) run as the
`postgres` OS user (`runuser -u postgres --`) when the harness is root, since
initdb refuses root; as any other user they run as that user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.seed import SetupFailed
from bench.servers import free_port

DATABASE = "referral_soak"


def default_bin_dir() -> Path | None:
    """The newest installed server version's bin directory, if any."""
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return versions[-1].parent if versions else None


class ThrowawayCluster:
    """initdb, start, restart (fast or immediate, like a crash) and delete."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.port = free_port()
        self.root: Path | None = None
        self.restarts: list[tuple[float, float, str]] = []  # (began, answered again, mode)

    @property
    def data_dir(self) -> Path:
        assert self.root is not None
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        assert self.root is not None
        return self.root / "postgresql.log"

    def url(self, database: str = DATABASE) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _as_owner(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if completed.returncode != 0:
            raise SetupFailed(
                f"{args[0]} failed ({completed.returncode}):\n{completed.stdout}{completed.stderr}"
                f"\n{self.log_tail()}"
            )
        return completed

    def start(self) -> None:
        if not (self.bin_dir / "initdb").exists():
            raise SetupFailed(
                f"no initdb in {self.bin_dir} (apt-get install postgresql, or --pg-bin)"
            )
        # Its own temp dir (not the run's): the postgres user must be able to enter it.
        self.root = Path(tempfile.mkdtemp(prefix="referral-soak-pg-"))
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        data = str(self.data_dir)
        self._as_owner("initdb", "-D", data, *"-U postgres --auth=trust -E UTF8 --no-sync".split())
        self._start()
        psql = f"-h 127.0.0.1 -p {self.port} -U postgres -q".split()
        self._as_owner("psql", *psql, "-c", f"CREATE DATABASE {DATABASE}")

    def _start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c max_connections=200 -c jit=off"
        )
        # With a log file, or the server would hold our stdout pipe open.
        log = str(self.log_path)
        self._as_owner("pg_ctl", "-D", str(self.data_dir), "-l", log, "-o", options, "-w", "start")

    def restart(self, mode: str, *, down_seconds: float) -> float:
        """Stop (`fast`: sessions cut off, a clean shutdown; `immediate`: no
        shutdown at all, crash recovery on start), stay down `down_seconds`
        (connections are refused meanwhile), start again. Returns how long the
        server was away, in seconds."""
        began = time.monotonic()
        self._as_owner("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop")
        time.sleep(down_seconds)
        self._start()
        answered = time.monotonic()
        self.restarts.append((began, answered, mode))
        return answered - began

    def log_tail(self, lines: int = 20) -> str:
        if self.root is None:
            return ""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Stop the server and delete everything it wrote."""
        if self.root is None:
            return
        if (self.data_dir / "postmaster.pid").exists():
            try:
                self._as_owner("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
            except SetupFailed:
                pass  # already gone; the directory goes anyway
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None
