"""The dashboard benchmark (bench/dashboard.py) generates its marketplace
history and times the dashboard on it: a schema change the generator does not
know breaks this test, not the next person who runs the benchmark. No timing
is asserted."""

from __future__ import annotations

import re

import pytest

from tests.support.bench import run_bench


@pytest.mark.slow
def test_the_dashboard_benchmark_generates_its_history_and_times_the_page() -> None:
    finished = run_bench(
        "dashboard.py",
        *("--db", "sqlite", "--scale", "0.002", "--regenerate"),
        *("--busy", "1", "--median", "1", "--repeats", "1"),
    )
    out = finished.stdout
    assert re.search(r"generated in .*business 50, .*referral 2,000", finished.stderr)
    assert re.search(r"^sqlite +busy #\d+ +\d+ +[\d.]+ +[\d.]+ ", out, re.M)
    assert re.search(r"^sqlite +worst p95 .*(PASS|FAIL)$", out, re.M)
