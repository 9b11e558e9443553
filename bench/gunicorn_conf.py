"""Gunicorn settings for benchmark runs: each worker reports when its app is loaded.

Without --preload every worker imports the app after it is forked, so the
master accepting connections does not mean the workers can answer yet. The
harness waits for one file per worker in BENCH_READY_DIR before it measures.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Any


def post_worker_init(worker: Any) -> None:
    # As referral/serving.py does in production (referral/longlived.py):
    # Referral's workers warm up before their first request, and for every app
    # measured alike, what the worker loaded is left out of collections.
    app = getattr(worker, "wsgi", None)
    if type(app).__module__.startswith("referral."):
        from referral.longlived import warm_up

        warm_up(app)
    gc.collect()
    gc.freeze()
    ready_dir = os.environ.get("BENCH_READY_DIR")
    if ready_dir:
        Path(ready_dir, str(worker.pid)).touch()
