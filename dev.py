#!/usr/bin/env python3
"""Set up and run Referral on a machine that has only Python 3.11+ and git.

    python3 dev.py start   install everything, then run the app with demo data
                           on the embedded default (SQLite in instance/)
    python3 dev.py test    install everything, then run the whole test suite
                           (extra arguments go to pytest)

Both create `.venv/` beside this file and install the project into it with its
test extras; the install is skipped while pyproject.toml is unchanged.
Standard library only: this file runs before anything is installed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".referral-installed"


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 11):  # noqa: UP036 - runs before the venv exists
        sys.exit(f"Referral needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    if not argv or argv[0] not in {"start", "test"}:
        print(__doc__.strip())
        return 2
    install()
    command, rest = argv[0], argv[1:]
    if command == "start":
        return run([str(BIN / "referral"), "up", *rest])
    return run([str(BIN / "python"), "-m", "pytest", *rest])


def install() -> None:
    """Create the virtual environment and install the project, once per pyproject change."""
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print("Creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("Installing Referral and its dependencies into .venv ...", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "--disable-pip-version-check"]
    check(["--quiet", "install", "--upgrade", "pip"], pip)
    check(["--quiet", "install", "--editable", f"{ROOT}[test]"], pip)
    STAMP.write_text(wanted)


def check(args: list[str], prefix: list[str]) -> None:
    if subprocess.call([*prefix, *args], cwd=ROOT) != 0:
        sys.exit("Installation failed; see the messages above.")


def run(command: list[str]) -> int:
    try:
        return subprocess.call(command, cwd=ROOT)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
