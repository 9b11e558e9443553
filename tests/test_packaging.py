"""The release: what the wheel carries, where the app looks for it, the instance
folder, and locks that match pyproject.toml. devtools/wheel_smoke.py (run by
.ci/run) installs the built wheel outside the checkout and runs it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from referral import create_app
from referral.config import TestConfig
from referral.paths import CHECKOUT_ROOT, InstanceFolderError, resource, writable_instance

PYPROJECT = tomllib.loads((CHECKOUT_ROOT / "pyproject.toml").read_text())
REQUIREMENTS = CHECKOUT_ROOT / "requirements"
LOCKS = ["runtime", "redis", "standin", "test", "dev"]


def test_the_wheel_maps_every_top_level_folder_the_app_reads_into_the_package() -> None:
    mapped = PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert mapped == {name: f"referral/{name}" for name in ("templates", "static", "migrations")}
    for name in mapped:
        # In a checkout the app reads the top-level folder; installed, the package's own.
        assert resource(name) == CHECKOUT_ROOT / name
        assert resource(name).is_dir()


def test_instance_path_is_taken_from_the_setting(tmp_path: Path) -> None:
    app = create_app(TestConfig(DATABASE_URL="sqlite://", INSTANCE_PATH=str(tmp_path / "inst")))
    assert app.instance_path == str(tmp_path / "inst")


def test_an_unwritable_instance_folder_is_refused_by_name(tmp_path: Path) -> None:
    blocked = tmp_path / "instance"
    blocked.write_text("a file where the folder should be")
    with pytest.raises(InstanceFolderError, match=re.escape(str(blocked))) as refused:
        writable_instance(blocked)
    assert "INSTANCE_PATH" in str(refused.value)


def _pins(lock: str) -> dict[str, str]:
    text = (REQUIREMENTS / f"{lock}.txt").read_text()
    return {
        canonicalize_name(name): version
        for name, version in re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", text, re.M)
    }


def test_every_declared_dependency_is_locked_within_its_range() -> None:
    project = PYPROJECT["project"]
    declared = [Requirement(r) for r in project["dependencies"]]
    declared += [
        Requirement(r) for group in project["optional-dependencies"].values() for r in group
    ]
    pins = _pins("dev")
    for requirement in declared:
        name = canonicalize_name(requirement.name)
        if name == "referral":
            continue
        assert name in pins, f"{name} is not in requirements/dev.txt: run `python3 dev.py lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} is outside {requirement.specifier}: run `python3 dev.py lock`"
        )


def test_every_lock_agrees_with_the_dev_lock() -> None:
    everything = _pins("dev")
    for lock in LOCKS:
        pins = _pins(lock)
        assert pins, lock
        assert {name: everything.get(name) for name in pins} == pins, lock
    assert "playwright" not in _pins("standin"), "`dev.py start` installs no test tools"
    assert "redis" in _pins("redis")


DEPLOY = CHECKOUT_ROOT / "deploy"


def test_the_compose_file_is_two_web_nodes_behind_a_proxy_two_workers_postgresql_and_redis() -> (
    None
):
    import yaml

    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    web = [name for name, s in services.items() if "command" not in s and "build" in s]
    workers = [name for name, s in services.items() if s.get("command") == ["referral", "worker"]]
    assert sorted(web) == ["web1", "web2"] and sorted(workers) == ["worker1", "worker2"]
    assert services["migrate"]["command"] == ["referral", "db", "upgrade"]
    for name in [*web, *workers]:
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
        assert services[name]["environment"]["RATELIMIT_STORAGE_URI"].startswith("redis://")
    upstreams = re.findall(r"server (\w+):8000", (DEPLOY / "nginx.conf").read_text())
    assert sorted(upstreams) == sorted(web)
    assert {"db", "redis", "proxy"} <= set(services)


def test_every_deploy_file_runs_commands_the_installed_app_has() -> None:
    app = create_app(TestConfig(DATABASE_URL="sqlite://"))
    commands = set(app.cli.commands) | {"db"}
    texts = [path.read_text() for path in DEPLOY.rglob("*") if path.is_file()]
    used = {
        word for text in texts for word in re.findall(r"\breferral\"?,? \"?([a-z][a-z-]*)", text)
    }
    assert used and used <= commands, used - commands
    image = (DEPLOY / "Containerfile").read_text()
    assert "USER referral" in image and "HEALTHCHECK" in image and image.count("FROM ") == 2
    assert all("referral:create_app()" in text for text in texts if "gunicorn" in text)
