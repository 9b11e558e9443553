"""Settings: one typed object read from the environment and an optional `.env`.

Every setting is one line of `Settings` below: its environment variable (the
field's name), type, default and meaning. A value that does not parse, an
empty value where one is needed, or a production-unsafe combination stops the
app at start-up with a `ConfigError` naming the variable, what it got and what
it accepts; an unknown variable whose name is close to a setting's is warned
about with the suggestion. `referral config` prints the effective settings,
secrets masked; the README's configuration table is tested against this class.

Secrets never have a literal default: a missing SECRET_KEY is generated once
and kept in the instance folder.
"""

from __future__ import annotations

import difflib
import importlib.util
import ipaddress
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from dotenv import dotenv_values
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from referral.paths import default_instance_path, writable_instance

Seconds = Annotated[int, Field(ge=1)]
Days = Annotated[int, Field(ge=1)]
Count = Annotated[int, Field(ge=1)]


def secret() -> Any:
    """A secret setting: no default, masked by `referral config` and in errors."""
    return Field(None, json_schema_extra={"secret": True})


class ConfigError(RuntimeError):
    """A setting is invalid or unsafe; the message names each one."""


class Settings(BaseSettings):
    """Every setting from the environment. Adding one is one line here (and a row
    in the README's table); the app reads it as `app.config[NAME]`."""

    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore", validate_default=True)

    @classmethod
    def settings_customise_sources(  # type: ignore[override]
        cls, settings_cls: type[BaseSettings], init_settings: Any, **sources: Any
    ) -> tuple[Any, ...]:
        # Only what load_settings passes in: it reads the environment and .env
        # itself, so it can name empty, misspelt and invalid variables first.
        return (init_settings,)

    INSTANCE_PATH: str | None = None
    SECRET_KEY: str | None = secret()
    DATABASE_URL: str | None = None
    DATABASE_ECHO: bool = False
    BASE_URL: str = "http://127.0.0.1:5000"

    SESSION_COOKIE_SECURE: bool = False
    SESSION_LIFETIME_SECONDS: Annotated[int, Field(ge=60)] = 14 * 86400
    UPLOAD_FOLDER: str | None = None
    MAX_CONTENT_LENGTH: Annotated[int, Field(ge=1024)] = 6 * 1024 * 1024
    MAX_FORM_MEMORY_SIZE: Annotated[int, Field(ge=1024)] = 500 * 1024

    MAIL_BACKEND: Literal["outbox", "smtp"] = "outbox"
    MAIL_SERVER: str = "127.0.0.1"
    MAIL_PORT: Annotated[int, Field(ge=1, le=65535)] = 25
    MAIL_USERNAME: str | None = None
    MAIL_PASSWORD: str | None = secret()
    MAIL_USE_STARTTLS: bool = False
    MAIL_SENDER: str = "Referral <no-reply@referral.localhost>"
    # An address whose mail an operator reads, offered as the mailto: unsubscribe
    # beside the one-click link (RFC 2369); empty: the one-click link only.
    MARKETING_UNSUBSCRIBE_MAILTO: str | None = None

    TRUSTED_PROXIES: Annotated[int, Field(ge=0, le=10)] = 0
    RATELIMIT_STORAGE_URI: str = "memory://"
    RATELIMIT_KEY_PREFIX: str = "referral"
    RATELIMIT_ENABLED: bool = True
    LOGIN_RATE_LIMIT: str = "10 per minute"
    # Sign-ups per client address; links and resets sent per target address.
    SIGNUP_RATE_LIMIT: str = "10 per hour"
    EMAIL_RATE_LIMIT: str = "5 per hour"

    JOB_LEASE_SECONDS: Seconds = 300
    JOB_MAX_ATTEMPTS: Count = 8
    JOB_CLAIM_BATCH: Count = 10
    JOB_RETENTION_DAYS: Days = 30
    # Marketing email a business may send per minute, over all its campaigns.
    CAMPAIGN_SENDS_PER_MINUTE: Count = 600

    # Outgoing webhooks. Loopback (and plain http to it) only in development and tests.
    WEBHOOK_ALLOW_LOOPBACK: bool = False
    WEBHOOK_TIMEOUT_SECONDS: Seconds = 10
    WEBHOOK_RETRY_BASE_SECONDS: Annotated[int, Field(ge=0)] = 5
    WEBHOOK_RETRY_HOURS: Annotated[int, Field(ge=1)] = 72
    WEBHOOK_RETENTION_DAYS: Days = 30
    # Endpoints sent to at once across all workers: the rest wait their turn.
    WEBHOOK_MAX_SENDING_ENDPOINTS: Count = 4

    STRIPE_SECRET_KEY: str | None = secret()
    STRIPE_WEBHOOK_SECRET: str | None = secret()
    STRIPE_CONNECT_WEBHOOK_SECRET: str | None = secret()
    STRIPE_API_BASE: str | None = None
    STRIPE_WEBHOOK_TOLERANCE_SECONDS: Seconds = 300
    STRIPE_TIMEOUT_SECONDS: Seconds = 20
    PLATFORM_FEE_BPS: Annotated[int, Field(ge=0, le=10000)] = 500
    SETTLEMENT_INTERVAL_DAYS: Days = 7
    SETTLEMENT_RETRY_DAYS: str = "1,3,7"
    # Namespaces idempotency keys, so a reset database or a second environment on
    # the same Stripe account never replays another's objects (generated once into
    # the instance folder when unset; set the same value on every node).
    STRIPE_INSTALL_ID: str | None = None
    # What Stripe charges the platform per card payment (US cards: 2.9% + 30c); the
    # minimum settlement and lead price default to the amount whose platform fee
    # covers it (referral/payments/pricing.py, docs/stripe.md).
    STRIPE_PROCESSING_FEE_BPS: Annotated[int, Field(ge=0, le=10000)] = 290
    STRIPE_PROCESSING_FEE_FIXED_CENTS: Annotated[int, Field(ge=0)] = 30
    SETTLEMENT_MINIMUM_CENTS: Annotated[int, Field(ge=0)] | None = None
    LEAD_MINIMUM_PRICE_CENTS: Annotated[int, Field(ge=0)] | None = None

    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    # --- values that need more than a type ---------------------------------------------

    @field_validator("BASE_URL", "STRIPE_API_BASE")
    @classmethod
    def _http_address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("expected an http:// or https:// address such as https://example.com")
        return value.strip().rstrip("/")

    @field_validator("DATABASE_URL")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(
                "expected sqlite:///path/to/file.db or postgresql+psycopg://user:pass@host/db"
            ) from None
        if url.get_backend_name() not in {"sqlite", "postgresql"}:
            raise ValueError("expected a sqlite:/// or postgresql+psycopg:// URL")
        return value

    @field_validator("RATELIMIT_STORAGE_URI")
    @classmethod
    def _rate_limit_storage(cls, value: str) -> str:
        from limits.storage import SCHEMES

        scheme = urlsplit(value).scheme
        if scheme not in SCHEMES or scheme.startswith("async+"):
            raise ValueError(
                "expected memory:// or redis://host:6379/0 (also rediss://, valkey://)"
            )
        if scheme.startswith(("redis", "valkey")) and importlib.util.find_spec("redis") is None:
            raise ValueError("needs the redis client: pip install 'referral[redis]'")
        return value

    @field_validator("LOGIN_RATE_LIMIT", "SIGNUP_RATE_LIMIT", "EMAIL_RATE_LIMIT")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError:
            raise ValueError("expected a limit such as '10 per minute' or '100/hour'") from None
        return value

    @field_validator("SETTLEMENT_RETRY_DAYS")
    @classmethod
    def _retry_days(cls, value: str) -> str:
        parts = [part.strip() for part in value.split(",")]
        if not all(part.isdigit() and int(part) > 0 for part in parts):
            raise ValueError("expected whole days separated by commas, such as 1,3,7")
        return ",".join(parts)

    @field_validator("LOG_LEVEL", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    # --- combinations that are unsafe in production ------------------------------------

    @model_validator(mode="after")
    def _safe_together(self) -> Settings:
        problems: list[str] = []
        if self.STRIPE_SECRET_KEY and not self.STRIPE_API_BASE:
            problems.extend(
                f"{name} is required with STRIPE_SECRET_KEY: unverified webhooks would let "
                "anyone mark commissions paid (`referral stripe setup` creates the platform "
                "and Connect endpoints and prints both secrets)"
                for name in WEBHOOK_SECRETS
                if not getattr(self, name)
            )
        if self.BASE_URL.startswith("https://") and not self.SESSION_COOKIE_SECURE:
            problems.append(
                f"SESSION_COOKIE_SECURE is off while BASE_URL is {self.BASE_URL}: "
                "set SESSION_COOKIE_SECURE=true so the session cookie never travels unencrypted"
            )
        if self.MAIL_BACKEND == "outbox" and not _is_loopback(self.BASE_URL):
            problems.append(
                f"MAIL_BACKEND=outbox keeps every email (reset links too) in the database for a "
                f"page on this machine, but BASE_URL is {self.BASE_URL}: set MAIL_BACKEND=smtp"
            )
        if problems:
            raise ValueError("\n".join(problems))
        return self


# Settings whose Flask name differs from their environment variable.
FLASK_NAMES = {"SESSION_LIFETIME_SECONDS": "PERMANENT_SESSION_LIFETIME"}
SECRET_SETTINGS = frozenset(
    name
    for name, field in Settings.model_fields.items()
    if isinstance(field.json_schema_extra, dict) and field.json_schema_extra.get("secret")
)


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _accepts(name: str) -> str:
    field = Settings.model_fields[name]
    if field.annotation is bool:
        return "true or false (also 1/0, yes/no, on/off)"
    if field.annotation is int:
        bounds = [
            f"{sign} {getattr(rule, attr)}"
            for rule in field.metadata
            for attr, sign in (("ge", "≥"), ("le", "≤"))
            if getattr(rule, attr, None) is not None
        ]
        return "a whole number" + (f" {' and '.join(bounds)}" if bounds else "")
    return ""


def load_settings(raw: Mapping[str, str]) -> tuple[Settings, list[str]]:
    """Parse the settings out of `raw` (environment variables): the settings and the
    warnings (ignored empty values, names that look like a misspelt setting), or a
    ConfigError naming every bad value at once."""
    names = Settings.model_fields
    warnings = _misspelt(raw)
    values: dict[str, str] = {}
    problems: list[str] = []
    for name in names:
        if name not in raw:
            continue
        value = raw[name]
        if value.strip() == "":
            if names[name].default is None:
                warnings.append(f"{name} is set but empty: treated as not set.")
            else:
                problems.append(f"{name} is empty: expected {_accepts(name) or 'a value'}.")
            continue
        values[name] = value
    try:
        settings = Settings.model_validate(values)
    except ValidationError as error:
        for detail in error.errors():
            name = str(detail["loc"][0]) if detail["loc"] else ""
            message = str(detail["msg"]).removeprefix("Value error, ")
            if name in names:
                shown = mask(name, values.get(name))
                expected = f"expected {_accepts(name)}" if _accepts(name) else message
                problems.append(f"{name}={shown!r} is not accepted: {expected}.")
            else:
                problems.extend(f"{line}." for line in message.splitlines())
        settings = None
    if problems:
        raise ConfigError("Invalid settings:\n  " + "\n  ".join(problems))
    assert settings is not None
    return settings, warnings


def _misspelt(raw: Mapping[str, str]) -> list[str]:
    names = list(Settings.model_fields)
    warnings = []
    for key in raw:
        if key in Settings.model_fields or not re.fullmatch(r"[A-Z][A-Z0-9_]*", key):
            continue
        bare = key.removeprefix("REFERRAL_")
        if bare in Settings.model_fields:
            close = [bare]
        elif any(name in key for name in names):
            continue  # TEST_DATABASE_URL and the like are other things on purpose
        else:
            close = difflib.get_close_matches(key, names, n=1, cutoff=0.85)
        if close:
            warnings.append(f"{key} is not a setting; did you mean {close[0]}?")
    return warnings


def read_environment(env_file: Path | None = Path(".env")) -> dict[str, str]:
    """The process environment over the optional .env file."""
    from_file = dotenv_values(env_file) if env_file is not None and env_file.is_file() else {}
    return {**{k: v for k, v in from_file.items() if v is not None}, **os.environ}


def mask(name: str, value: object) -> str:
    """A setting as `referral config` shows it: secrets hidden (a Stripe key keeps its
    sk_live_/sk_test_ kind), a password inside a URL too."""
    if value is None or value == "":
        return "(not set)"
    text = str(value)
    if name in SECRET_SETTINGS:
        kind = re.match(r"(sk|rk|whsec)_(live_|test_)?", text)
        return f"{kind.group(0) if kind else ''}****"
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1****@", text)


def describe_settings(config: Mapping[str, object]) -> list[str]:
    """One `NAME = value` line per setting, secrets masked."""
    lines = []
    for name in Settings.model_fields:
        key = FLASK_NAMES.get(name, name)
        lines.append(f"{name} = {mask(name, config.get(key))}")
    return lines


def instance_secret_key(instance_path: Path) -> str:
    """Return the secret key kept in instance/, creating it on first use."""
    return instance_secret(instance_path, "secret_key")


def instance_secret(instance_path: Path, name: str, *, prefix: str = "", nbytes: int = 48) -> str:
    """A random secret kept in instance/`name`, created on first use."""
    writable_instance(instance_path)
    key_file = instance_path / name
    if not key_file.exists():
        # O_EXCL so two processes starting at once cannot write different keys.
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(prefix + secrets.token_urlsafe(nbytes))
    return key_file.read_text().strip()


STANDIN_API_BASE = "http://127.0.0.1:12111"
STANDIN_SECRET_KEY = "sk_test_standin"
# The platform endpoint's and the Connect endpoint's (connected accounts' events).
WEBHOOK_SECRETS = ("STRIPE_WEBHOOK_SECRET", "STRIPE_CONNECT_WEBHOOK_SECRET")


def resolve_stripe_settings(config: dict[str, object], instance_path: Path) -> None:
    """Real Stripe when a secret key is given without a stand-in address (and then a
    webhook secret is required); otherwise the local stand-in, whose webhook secret
    is generated once and kept in instance/. The install id that namespaces every
    idempotency key is generated once and kept in instance/ unless set (set it on
    every node when there are several)."""
    if not config.get("STRIPE_INSTALL_ID"):
        config["STRIPE_INSTALL_ID"] = instance_secret(instance_path, "stripe_install_id", nbytes=9)
    if config.get("STRIPE_SECRET_KEY") and not config.get("STRIPE_API_BASE"):
        for name in WEBHOOK_SECRETS:
            if not config.get(name):
                raise RuntimeError(
                    f"{name} is required with STRIPE_SECRET_KEY: unverified webhooks would "
                    "let anyone mark commissions paid (`referral stripe setup` creates the "
                    "platform and Connect endpoints and prints both secrets)."
                )
        return
    config["STRIPE_API_BASE"] = config.get("STRIPE_API_BASE") or STANDIN_API_BASE
    config["STRIPE_SECRET_KEY"] = config.get("STRIPE_SECRET_KEY") or STANDIN_SECRET_KEY
    for name in WEBHOOK_SECRETS:
        if not config.get(name):
            config[name] = instance_secret(instance_path, name.lower(), prefix="whsec_")


def default_database_url(instance_path: Path) -> str:
    writable_instance(instance_path)
    return f"sqlite:///{instance_path / 'referral.db'}"


class Config:
    """Production-shaped defaults: the parsed `Settings` (from `env`, else the process
    environment over `.env`) as Flask config attributes, plus the fixed Flask ones.
    Raises ConfigError naming every invalid or unsafe setting."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        settings, self.warnings = load_settings(read_environment() if env is None else env)
        for name, value in settings.model_dump().items():
            setattr(self, FLASK_NAMES.get(name, name), value)
        self.INSTANCE_PATH = settings.INSTANCE_PATH or str(default_instance_path())

        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_NAME = "referral_session"
        # The login's own expiry lives in the database; re-signing the cookie on
        # every response would only cost time.
        self.SESSION_REFRESH_EACH_REQUEST = False
        self.WTF_CSRF_TIME_LIMIT = None  # tied to the session instead of a clock

        self.API_TITLE = "Referral API"
        self.API_VERSION = "v1"
        self.OPENAPI_VERSION = "3.0.3"
        self.OPENAPI_URL_PREFIX = "/api/v1"
        self.OPENAPI_JSON_PATH = "openapi.json"
        self.API_SPEC_OPTIONS = {
            "components": {
                "securitySchemes": {
                    "apiKey": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "An API key created on the API keys page.",
                    }
                }
            },
            "security": [{"apiKey": []}],
        }
        self.TESTING = False

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in vars(self).items() if k.isupper()}


class TestConfig(Config):
    """Test settings: a subclass, so production defaults stay the ones tested."""

    __test__ = False  # not a pytest test class

    def __init__(self, env: Mapping[str, str] | None = None, **overrides: object) -> None:
        super().__init__(env={} if env is None else env)
        self.TESTING = True
        self.SECRET_KEY = "test-" + secrets.token_hex(16)
        self.RATELIMIT_STORAGE_URI = "memory://"
        # Nothing listens on the discard port: a test that needs Stripe starts the stand-in.
        self.STRIPE_API_BASE = "http://127.0.0.1:9"
        self.STRIPE_WEBHOOK_SECRET = "whsec_test_" + secrets.token_hex(16)
        self.STRIPE_CONNECT_WEBHOOK_SECRET = "whsec_test_connect_" + secrets.token_hex(16)
        self.STRIPE_TIMEOUT_SECONDS = 5
        self.STRIPE_INSTALL_ID = "test-" + secrets.token_hex(6)
        # Small amounts keep the tests' arithmetic readable; the break-even
        # defaults are tested on their own (tests/payments/test_pricing.py).
        self.SETTLEMENT_MINIMUM_CENTS = 50
        self.LEAD_MINIMUM_PRICE_CENTS = 100
        for key, value in overrides.items():
            setattr(self, key, value)
