"""The dashboard benchmark (bench/dashboard.py) generates its marketplace
history and times the dashboard on it: a schema change the generator does not
know breaks this test, not the next person who runs the benchmark. No timing
is asserted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_dashboard_benchmark_generates_its_history_and_times_the_page() -> None:
    finished = subprocess.run(
        [
            sys.executable,
            "bench/dashboard.py",
            *("--db", "sqlite", "--scale", "0.002", "--regenerate"),
            *("--busy", "1", "--median", "1", "--repeats", "1"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert finished.returncode == 0, finished.stdout + finished.stderr
    out = finished.stdout
    assert re.search(r"generated in .*business 50, .*referral 2,000", finished.stderr)
    assert re.search(r"^sqlite +busy #\d+ +\d+ +[\d.]+ +[\d.]+ ", out, re.M)
    assert re.search(r"^sqlite +worst p95 .*(PASS|FAIL)$", out, re.M)
