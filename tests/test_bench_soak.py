"""The soak's report tells a stall (every endpoint slow at once) from a slow endpoint."""

from __future__ import annotations

from bench.soak_client import Recorder, SlowSecond


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
