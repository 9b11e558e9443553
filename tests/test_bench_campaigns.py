"""The campaign benchmark (bench/campaigns.py) runs end to end on a small list:
every message arrives exactly once and its ratios are printed. No timing is
asserted: speed is the benchmark's to report, not a test's."""

from __future__ import annotations

import re

import pytest

from bench.campaigns import RssSampler
from tests.support.bench import run_bench


@pytest.mark.slow
def test_the_campaign_benchmark_sends_every_message_once_and_prints_its_ratios() -> None:
    finished = run_bench("campaigns.py", "--customers", "200", "--rounds", "1")
    out = finished.stdout
    assert "200 permitted customers on sqlite" in out
    assert "arrived: 200 messages, 200 distinct, 0 more than once; recipients {'sent': 200}" in out
    assert re.search(r"^queueing .*send_campaign \d+ ms; ratio [\d.]+x the bare time$", out, re.M)
    assert re.search(r"^sending \(2 workers\): .* ratio \d+% \(target >= 50%\)$", out, re.M)
    assert len(re.findall(r"^worker \d+ RSS: .* growth [+-][\d.]+ MiB$", out, re.M)) == 2
    assert "FAILED" not in out


def test_a_worker_whose_first_tenth_came_between_two_samples_still_has_its_growth() -> None:
    sampler = RssSampler.__new__(RssSampler)  # its samples only, no thread
    sampler.samples = {
        1: [(0, 100), (0, 110), (40, 150), (200, 160)],  # 200 messages: none seen at 1-20
        2: [(5, 120), (200, 130)],
    }

    assert sampler.growth(20) == {1: (110, 160), 2: (120, 130)}
