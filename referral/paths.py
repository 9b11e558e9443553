"""Where the app finds its files, in a checkout and once installed from a wheel.

The repository keeps `templates/`, `static/` and `migrations/` at its top level;
the wheel maps them into the package (`referral/templates`, ...; see
pyproject.toml). So a resource is the package's own folder when it exists (an
installed wheel) and the checkout's top-level folder otherwise.

The instance folder (generated secrets, the embedded SQLite database, uploads)
is `INSTANCE_PATH` when set; else `instance/` in a checkout, and for an
installed package the per-user data folder (`$XDG_DATA_HOME/referral`, by
default `~/.local/share/referral`), never inside site-packages.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
CHECKOUT_ROOT = PACKAGE_DIR.parent


class InstanceFolderError(RuntimeError):
    """The instance folder cannot be created or written."""


def resource(name: str) -> Path:
    """The folder `name` (templates, static, migrations) shipped with the app."""
    inside = PACKAGE_DIR / name
    return inside if inside.is_dir() else CHECKOUT_ROOT / name


def running_from_checkout() -> bool:
    """True when the package is imported from a source tree (editable or PYTHONPATH)."""
    return (CHECKOUT_ROOT / "pyproject.toml").is_file() and not (PACKAGE_DIR / "templates").is_dir()


def default_instance_path() -> Path:
    if running_from_checkout():
        return CHECKOUT_ROOT / "instance"
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "referral"


def writable_instance(path: Path) -> Path:
    """Create the instance folder if needed and prove it writable, or say which
    folder is wrong and how to choose another."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise InstanceFolderError(
            f"The instance folder {path} cannot be written ({error.strerror or error}); "
            "set INSTANCE_PATH to a folder this user can write."
        ) from None
    return path
