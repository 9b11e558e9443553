"""Running a benchmark script of bench/ as a person would, for the tests that
check it still runs end to end (they assert what it prints, never a timing)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_bench(script: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    """`python bench/<script> <arguments>` from the repository's root; it must exit 0."""
    finished = subprocess.run(
        [sys.executable, f"bench/{script}", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return finished
