"""The worked example of docs/integrations.md, run for real: its receiver (a
separate process) verifies the app's signed events and prints the referral;
the doc's curl calls accept it and report it won; the receiver hears both."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlmodel import Session

from tests.support.integrations import Party, refer
from tests.support.live_server import LiveServer, worker_thread

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "integrations.md"
RECEIVER = ROOT / "docs" / "examples" / "webhook_receiver.py"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Printed:
    """The lines a process prints, read as they come."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self.thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 120) -> str:  # a loaded CI machine
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                if re.search(pattern, line):
                    return line
            time.sleep(0.05)
        raise AssertionError(f"never printed {pattern!r}; printed: {self.lines}")


@pytest.fixture
def example_receiver(app: Flask, plumber: Party) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """The doc's receiver, started once its endpoint exists (it needs the secret)."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/webhooks/referral"
    added = app.test_client().post(
        "/api/v1/webhook-endpoints",
        json={
            "url": url,
            "event_types": ["referral.received", "referral.accepted", "referral.won"],
        },
        headers=plumber.headers(),
    )
    assert added.status_code == 201, added.json
    # Run as a reader would: not under a Flask CLI some other test ran in this
    # process (FLASK_RUN_FROM_CLI makes app.run() return at once).
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
    env.update(WEBHOOK_SECRET=added.json["secret"], PORT=str(port))
    process = subprocess.Popen(
        [sys.executable, str(RECEIVER)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None, "no receiver"
                time.sleep(0.1)
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def test_the_docs_receiver_hears_a_referral_and_the_docs_curl_calls_win_it(
    app: Flask,
    db: Session,
    hvac: Party,
    plumber: Party,
    customer_id: int,
    example_receiver: tuple[str, subprocess.Popen[str]],
) -> None:
    doc = DOC.read_text()
    assert RECEIVER.read_text() in doc  # the doc shows the receiver that is tested
    assert len(RECEIVER.read_text().splitlines()) <= 45
    (curl_block,) = re.findall(r"```sh\n(.*?)```", doc, flags=re.S)

    printed = Printed(example_receiver[1])
    with LiveServer(app) as live, worker_thread(app):
        referral = refer(app, db, hvac, plumber, customer_id)
        line = printed.wait_for(rf"New referral {referral.id} from business {hvac.business_id}")
        assert f"/api/v1/referrals/{referral.id}" in line

        subprocess.run(
            ["bash", "-euo", "pipefail", "-c", curl_block],
            env={
                **os.environ,
                "REFERRAL_API": f"{live.url}/api/v1",
                "REFERRAL_KEY": plumber.api_key,
                "REFERRAL_ID": str(referral.id),
            },
            check=True,
            capture_output=True,
            timeout=60,
        )
        printed.wait_for(r"^referral\.accepted: ")
        won = printed.wait_for(r"^referral\.won: ")
    assert "480000" in won and "'status': 'won'" in won
