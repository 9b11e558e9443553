"""The upgrade rehearsal (docs/operations.md): today's migrations applied while
the previous release's code serves, as a rolling upgrade does.

    python devtools/upgrade_rehearsal.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test_upgrade

1. The previous release's tree (PREVIOUS_RELEASE, from this repository's
   history) migrates an empty database to its own head, loads its demo data,
   and serves it: one gunicorn node and one worker.
2. A demo owner signs in to it; its pages answer.
3. Today's `referral db upgrade` runs while it serves.
4. The old release keeps working on the new schema: the signed-in owner's
   pages, a customer created through its form, a sign-up whose verification
   email its own worker delivers.
5. The old release stops and today's code serves the same database: the owner
   signs in, sees the customer the old code created, and the new code's
   worker runs.

The previous release runs in a virtual environment of its own with the
dependencies its pyproject.toml declares (pinned to today's lock where a
package is in both), as its installation did; today's code runs in this
checkout's. The database is dropped and recreated empty
(schema `public`): give it one of its own. Exits 1 with the failing step and
the processes' log tails.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from pathlib import Path

from wheel_smoke import (
    RESET_DATABASE,
    Browser,
    Processes,
    SmokeFailed,
    expect,
    free_port,
    http_status,
    wait_until,
)

ROOT = Path(__file__).resolve().parent.parent
# 0.1.0, the first release: its migration head is FIRST_RELEASE_HEAD in
# tests/test_migration_rule.py, and every migration since is held to the
# expand step that this rehearsal exercises.
PREVIOUS_RELEASE = "0574493"
DEMO_OWNER = "owner@lone-star-comfort-air.example"  # the previous release's demo data
DEMO_PASSWORD = "referral-demo-2026"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="a PostgreSQL database of its own")
    parser.add_argument("--release", default=PREVIOUS_RELEASE, help="the commit serving first")
    args = parser.parse_args(argv)

    if not _in_history(args.release):
        if _shallow():
            # A shallow clone has no old release to run; say so loudly rather than fail.
            print(f"upgrade rehearsal: SKIPPED: this clone is shallow ({args.release} absent)")
            return 0
        print(f"upgrade rehearsal: FAILED: {args.release} is not in this repository's history")
        return 1
    work = Path(tempfile.mkdtemp(prefix="referral-upgrade-"))
    rehearsal = Rehearsal(work, args.database_url, args.release)
    started = time.monotonic()
    try:
        rehearsal.run()
    except SmokeFailed as failure:
        print(f"upgrade rehearsal: FAILED: {failure}", file=sys.stderr)
        rehearsal.print_logs()
        return 1
    finally:
        rehearsal.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    print(f"upgrade rehearsal: passed in {time.monotonic() - started:.0f} s")
    return 0


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)


def _in_history(release: str) -> bool:
    return _git("cat-file", "-e", f"{release}^{{commit}}").returncode == 0


def _shallow() -> bool:
    return _git("rev-parse", "--is-shallow-repository").stdout.strip() == "true"


class Rehearsal:
    def __init__(self, work: Path, database_url: str, release: str) -> None:
        self.work, self.database_url, self.release = work, database_url, release
        self.old_tree = work / "previous-release"
        self.python = sys.executable
        self.old_python = str(work / "previous-venv" / "bin" / "python")
        self.processes = Processes(work, "upgrade rehearsal")
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"PYTHONPATH", "PYTHONHOME"} and not key.startswith("REFERRAL")
        }
        self.env.update(
            DATABASE_URL=database_url,
            SECRET_KEY=secrets.token_urlsafe(32),
            BASE_URL="http://127.0.0.1:5000",
            MAIL_BACKEND="outbox",
            LOG_LEVEL="WARNING",
        )

    # --- steps -----------------------------------------------------------------------

    def run(self) -> None:
        self.step(f"the previous release ({self.release}) from history", self.export_release)
        self.step("the previous release's dependencies", self.install_old_dependencies)
        self.step("reset the database", self.reset_database)
        self.step("the previous release migrates and loads its demo", self.old_setup)
        old = self.step("the previous release serves", self.serve, "old", self.old_tree)
        owner = Browser()
        self.step("a demo owner signs in to it", self.sign_in, owner, old)
        self.step("today's migrations run while it serves", self.command, ROOT, "db", "upgrade")
        customer = self.step(
            "the previous release works on the new schema", self.old_works, owner, old
        )
        self.stop_all()
        new = self.step("today's code serves the same database", self.serve, "new", ROOT)
        self.step("today's code sees what the old one wrote", self.new_works, new, customer)

    def step(self, name: str, action, *args):  # type: ignore[no-untyped-def]
        began = time.monotonic()
        print(f"upgrade rehearsal: {name} ...", flush=True)
        result = action(*args)
        print(f"upgrade rehearsal:   ok ({time.monotonic() - began:.1f} s)", flush=True)
        return result

    def export_release(self) -> None:
        archive = self.work / "release.tar"
        finished = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", "-o", str(archive), self.release],
            capture_output=True,
            text=True,
        )
        if finished.returncode != 0:
            raise SmokeFailed(f"git archive {self.release}: {finished.stderr.strip()}")
        with tarfile.open(archive) as tar:
            tar.extractall(self.old_tree, filter="data")

    def install_old_dependencies(self) -> None:
        """A venv of the old release's own: what it declared, not what we run today."""
        declared = tomllib.loads((self.old_tree / "pyproject.toml").read_text())
        requirements = declared["project"]["dependencies"]
        # Today's pins where a package is in both, so the run is repeatable.
        constraints = self.work / "constraints.txt"
        pins = re.findall(
            r"^([A-Za-z0-9_.\-]+(?:\[[^\]]*\])?==[^\s\\;]+)",
            (ROOT / "requirements" / "runtime.txt").read_text(),
            re.MULTILINE,
        )
        constraints.write_text("".join(re.sub(r"\[[^\]]*\]", "", pin) + "\n" for pin in pins))
        venv = self.work / "previous-venv"
        self.run_checked([self.python, "-m", "venv", str(venv)], self.work)
        self.run_checked(
            [
                self.old_python,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-c",
                str(constraints),
                *requirements,
            ],
            self.work,
        )

    def reset_database(self) -> None:
        self.run_checked([self.python, "-c", RESET_DATABASE, self.database_url], ROOT)

    def old_setup(self) -> None:
        self.command(self.old_tree, "db", "upgrade")
        self.command(self.old_tree, "demo")

    def python_for(self, tree: Path) -> str:
        return self.old_python if tree == self.old_tree else self.python

    def serve(self, label: str, tree: Path) -> str:
        port = free_port()
        self.start(
            f"{label}-web",
            tree,
            [
                self.python_for(tree),
                "-m",
                "gunicorn",
                "--workers=1",
                "--no-control-socket",
                f"--bind=127.0.0.1:{port}",
                "referral:create_app()",
            ],
        )
        self.start(f"{label}-worker", tree, [self.python_for(tree), "-m", "referral", "worker"])
        node = f"http://127.0.0.1:{port}"
        wait_until(lambda: http_status(f"{node}/healthz") == 200, 240, f"{node}/healthz")
        return node

    def sign_in(self, browser: Browser, node: str) -> None:
        page = browser.get(f"{node}/login")
        home = browser.post(
            f"{node}/login",
            {"csrf_token": page.csrf_token(), "email": DEMO_OWNER, "password": DEMO_PASSWORD},
        )
        expect(home, 200, "signing in")
        if "Lone Star Comfort Air" not in home.text:
            raise SmokeFailed("the home page does not name the signed-in business")
        for path in ("/partnerships", "/referrals/inbox", "/customers", "/analytics"):
            expect(browser.get(f"{node}{path}"), 200, path)

    def old_works(self, owner: Browser, node: str) -> str:
        for path in ("/", "/partnerships", "/referrals/outbox", "/customers", "/analytics"):
            expect(owner.get(f"{node}{path}"), 200, f"{path} after the migration")
        name = f"Rehearsal Customer {secrets.token_hex(3)}"
        form = owner.get(f"{node}/customers/new")
        created = owner.post(
            f"{node}/customers/new",
            {
                "csrf_token": form.csrf_token(),
                "name": name,
                "email": f"{secrets.token_hex(4)}@rehearsal.example",
                "phone": "512-555-0199",
                "address": "1 Upgrade Way",
                "zip_code": "78701",
                "notes": "created by the previous release on the new schema",
            },
        )
        expect(created, 200, "creating a customer through the old form")
        if name not in created.text:
            raise SmokeFailed("the old customer page does not show the customer created")

        # A sign-up queues an email job: the old worker must deliver it on the new schema.
        newcomer = Browser()
        email = f"owner-{secrets.token_hex(4)}@rehearsal.example"
        page = newcomer.get(f"{node}/signup")
        trade = re.search(r'<option value="([^"]+)"', page.text)
        if not trade:
            raise SmokeFailed("the old sign-up page offers no trade")
        signed_up = newcomer.post(
            f"{node}/signup",
            {
                "csrf_token": page.csrf_token(),
                "business_name": "Rehearsal Plumbing",
                "trade": trade.group(1),
                "zip_code": "78701",
                "radius_miles": "25",
                "name": "Rae Hearsal",
                "email": email,
                "password": "rehearsal-password-2026",
            },
        )
        expect(signed_up, 200, "signing up on the old release")
        wait_until(
            lambda: email in newcomer.get(f"{node}/dev/outbox").text,
            120,
            "the old worker to deliver the verification email",
        )
        return name

    def new_works(self, node: str, customer: str) -> None:
        owner = Browser()
        self.sign_in(owner, node)
        customers = owner.get(f"{node}/customers?q={customer.split()[-1]}")
        expect(customers, 200, "the customer list")
        if customer not in customers.text:
            raise SmokeFailed("today's code does not list the customer the old release created")
        expect(owner.get(f"{node}/settlements"), 200, "/settlements")
        expect(owner.get(f"{node}/customers/import"), 200, "/customers/import")

    # --- processes ---------------------------------------------------------------------

    def command(self, tree: Path, *args: str) -> None:
        self.run_checked([self.python_for(tree), "-m", "referral", *args], tree)

    def run_checked(self, command: list[str], tree: Path) -> None:
        finished = subprocess.run(
            command,
            cwd=tree,
            env={**self.env, "PYTHONPATH": str(tree), "INSTANCE_PATH": str(self.work / "instance")},
            capture_output=True,
            text=True,
            timeout=600,
        )
        if finished.returncode != 0:
            raise SmokeFailed(
                f"{' '.join(command[2:])} in {tree.name} exited {finished.returncode}:\n"
                f"{finished.stdout[-3000:]}{finished.stderr[-3000:]}"
            )

    def start(self, name: str, tree: Path, command: list[str]) -> None:
        env = {**self.env, "PYTHONPATH": str(tree), "INSTANCE_PATH": str(self.work / "instance")}
        self.processes.start(name, command, cwd=tree, env=env)

    def stop_all(self) -> None:
        self.processes.stop()

    def print_logs(self) -> None:
        self.processes.print_logs()


if __name__ == "__main__":
    sys.exit(main())
