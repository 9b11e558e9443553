#!/usr/bin/env python3
"""Set up and run Referral on a machine that has only Python 3.11+ and git.

    python3 dev.py start   install what running the app needs (with the local
                           Stripe stand-in), then run it with demo data on the
                           embedded default (SQLite in instance/); --debug adds
                           the reloader and debugger (loopback only)
    python3 dev.py test    install that plus the test tools, then run the
                           whole test suite, one pytest-xdist worker per core
                           (extra arguments go to pytest; -n 0 runs in one)
    python3 dev.py lock    recompile the locked requirements/*.txt from
                           pyproject.toml (--upgrade: newest allowed versions)

`start` and `test` create `.venv/` beside this file and install the locked
dependencies (requirements/standin.txt or test.txt, with hashes) and the
project itself (editable); the install is skipped while neither the lock nor
pyproject.toml changed. Standard library only: this runs before any install.
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
REQUIREMENTS = ROOT / "requirements"

# Which lock each command installs. Each file is the whole set for its use and
# every file agrees with dev.txt, so going from one to a larger one only adds.
LOCKS = {"start": "standin", "test": "test", "lock": "dev"}
# Lock file -> the extras it holds (runtime.txt: none), compiled in this order.
LOCKED_EXTRAS = {
    "dev": ["dev"],
    "test": ["test"],
    "standin": ["standin"],
    "redis": ["redis"],
    "runtime": [],
}
# The smaller locks each one contains, so `start` after `test` installs nothing.
CONTAINS = {
    "dev": list(LOCKED_EXTRAS),
    "test": ["test", "standin", "redis", "runtime"],
    "standin": ["standin", "runtime"],
}


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 11):  # noqa: UP036 - runs before the venv exists
        sys.exit(f"Referral needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    if not argv or argv[0] not in LOCKS:
        print(__doc__.strip())
        return 2
    command, rest = argv[0], argv[1:]
    install(LOCKS[command])
    if command == "start":
        return run([str(BIN / "referral"), "up", *rest])
    if command == "lock":
        return lock(upgrade="--upgrade" in rest)
    return run([str(BIN / "python"), "-m", "pytest", *parallel(rest), *rest])


def parallel(pytest_args: list[str]) -> list[str]:
    """One worker per core, each test file on one worker (its tests share
    module fixtures and never race each other), unless the caller chose."""
    chosen = any(
        a in ("-n", "--numprocesses") or a.startswith(("-n", "--numprocesses="))
        for a in pytest_args
    )
    if chosen or "no:xdist" in pytest_args:
        return []
    return ["-n", "auto", "--dist", "loadfile"]


def install(name: str) -> None:
    """Create the virtual environment and install a lock and the project, once per change.
    A smaller set after a larger one installs nothing: the larger holds it."""
    wanted = {
        n: hashlib.sha256(
            (ROOT / "pyproject.toml").read_bytes() + (REQUIREMENTS / f"{n}.txt").read_bytes()
        ).hexdigest()
        for n in LOCKED_EXTRAS
    }
    done = STAMP.read_text().split() if STAMP.exists() else []
    if wanted[name] in done:
        return
    if not (BIN / "python").exists():
        print("Creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print(f"Installing Referral and its dependencies (requirements/{name}.txt) into .venv ...")
    pip = [str(BIN / "python"), "-m", "pip", "--disable-pip-version-check", "--quiet"]
    check([*pip, "install", "--upgrade", "pip"])
    check([*pip, "install", "--require-hashes", "-r", str(REQUIREMENTS / f"{name}.txt")])
    # With its dependencies: all pinned above, unless pyproject.toml gained one the
    # lock does not have yet (tests/test_packaging.py then says to run `dev.py lock`).
    check([*pip, "install", "--editable", str(ROOT)])
    STAMP.write_text("\n".join(wanted[n] for n in CONTAINS[name]))


def lock(*, upgrade: bool) -> int:
    """Compile every requirements/*.txt with uv (from the dev lock): pins with hashes
    for Python 3.11+ on any platform. The existing pins are kept unless --upgrade."""
    base = [str(BIN / "uv"), "pip", "compile", "pyproject.toml", "--quiet", "--universal"]
    base += ["--python-version", "3.11", "--generate-hashes", "--no-header"]
    for name, extras in LOCKED_EXTRAS.items():
        command = [*base, "-o", f"requirements/{name}.txt"]
        command += [arg for extra in extras for arg in ("--extra", extra)]
        if name == "dev":
            command += ["--upgrade"] if upgrade else []
        else:
            command += ["--constraint", "requirements/dev.txt"]
        if run(command) != 0:
            return 1
    print("requirements/*.txt updated; commit them with pyproject.toml.")
    return 0


def check(command: list[str]) -> None:
    if subprocess.call(command, cwd=ROOT) != 0:
        sys.exit("Installation failed; see the messages above.")


def run(command: list[str]) -> int:
    try:
        return subprocess.call(command, cwd=ROOT)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
