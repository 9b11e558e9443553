"""The campaign benchmark (bench/campaigns.py) runs end to end on a small list:
every message arrives exactly once and its ratios are printed. No timing is
asserted: speed is the benchmark's to report, not a test's."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_campaign_benchmark_sends_every_message_once_and_prints_its_ratios() -> None:
    finished = subprocess.run(
        [sys.executable, "bench/campaigns.py", "--customers", "200", "--rounds", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert finished.returncode == 0, finished.stdout + finished.stderr
    out = finished.stdout
    assert "200 permitted customers on sqlite" in out
    assert "arrived: 200 messages, 200 distinct, 0 more than once; recipients {'sent': 200}" in out
    assert re.search(r"^queueing .*send_campaign \d+ ms; ratio [\d.]+x the bare time$", out, re.M)
    assert re.search(r"^sending \(2 workers\): .* ratio \d+% \(target >= 50%\)$", out, re.M)
    assert len(re.findall(r"^worker \d+ RSS: .* growth [+-][\d.]+ MiB$", out, re.M)) == 2
    assert "FAILED" not in out
