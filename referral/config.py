"""Settings from the environment.

Every setting has an environment variable of the same name (see the README's
configuration table). Secrets never have a literal default: a missing
SECRET_KEY is generated once and kept in the instance folder.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(value: str | None, default: int) -> int:
    return int(value) if value not in (None, "") else default


def instance_secret_key(instance_path: Path) -> str:
    """Return the secret key kept in instance/, creating it on first use."""
    return instance_secret(instance_path, "secret_key")


def instance_secret(instance_path: Path, name: str, *, prefix: str = "") -> str:
    """A random secret kept in instance/`name`, created on first use."""
    instance_path.mkdir(parents=True, exist_ok=True)
    key_file = instance_path / name
    if not key_file.exists():
        # O_EXCL so two processes starting at once cannot write different keys.
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(prefix + secrets.token_urlsafe(48))
    return key_file.read_text().strip()


STANDIN_API_BASE = "http://127.0.0.1:12111"
STANDIN_SECRET_KEY = "sk_test_standin"


def resolve_stripe_settings(config: dict[str, object], instance_path: Path) -> None:
    """Real Stripe when a secret key is given without a stand-in address (and then a
    webhook secret is required); otherwise the local stand-in, whose webhook secret
    is generated once and kept in instance/."""
    if config.get("STRIPE_SECRET_KEY") and not config.get("STRIPE_API_BASE"):
        if not config.get("STRIPE_WEBHOOK_SECRET"):
            raise RuntimeError(
                "STRIPE_WEBHOOK_SECRET is required with STRIPE_SECRET_KEY: "
                "unverified webhooks would let anyone mark commissions paid."
            )
        return
    config["STRIPE_API_BASE"] = config.get("STRIPE_API_BASE") or STANDIN_API_BASE
    config["STRIPE_SECRET_KEY"] = config.get("STRIPE_SECRET_KEY") or STANDIN_SECRET_KEY
    if not config.get("STRIPE_WEBHOOK_SECRET"):
        config["STRIPE_WEBHOOK_SECRET"] = instance_secret(
            instance_path, "stripe_webhook_secret", prefix="whsec_"
        )


def default_database_url(instance_path: Path) -> str:
    instance_path.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{instance_path / 'referral.db'}"


class Config:
    """Production-shaped defaults; every value can be set from the environment."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        env = dict(os.environ if env is None else env)
        self.SECRET_KEY = env.get("SECRET_KEY") or None
        self.DATABASE_URL = env.get("DATABASE_URL") or None
        self.DATABASE_ECHO = _bool(env.get("DATABASE_ECHO"))
        self.BASE_URL = env.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/")

        self.SESSION_COOKIE_SECURE = _bool(env.get("SESSION_COOKIE_SECURE"))
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_NAME = "referral_session"
        # The login's own expiry lives in the database; re-signing the cookie on
        # every response would only cost time.
        self.SESSION_REFRESH_EACH_REQUEST = False
        self.PERMANENT_SESSION_LIFETIME = _int(env.get("SESSION_LIFETIME_SECONDS"), 14 * 86400)
        # Uploaded files (signed consent forms). Shared storage when several web nodes run.
        self.UPLOAD_FOLDER = env.get("UPLOAD_FOLDER") or None
        self.MAX_CONTENT_LENGTH = _int(env.get("MAX_CONTENT_LENGTH"), 6 * 1024 * 1024)
        self.MAX_FORM_MEMORY_SIZE = _int(env.get("MAX_FORM_MEMORY_SIZE"), 500 * 1024)
        self.WTF_CSRF_TIME_LIMIT = None  # tied to the session instead of a clock

        # Mail: "outbox" keeps messages in the database for the outbox page
        # (embedded default); "smtp" sends them through MAIL_SERVER.
        self.MAIL_BACKEND = env.get("MAIL_BACKEND", "outbox")
        self.MAIL_SERVER = env.get("MAIL_SERVER", "127.0.0.1")
        self.MAIL_PORT = _int(env.get("MAIL_PORT"), 25)
        self.MAIL_USERNAME = env.get("MAIL_USERNAME") or None
        self.MAIL_PASSWORD = env.get("MAIL_PASSWORD") or None
        self.MAIL_USE_STARTTLS = _bool(env.get("MAIL_USE_STARTTLS"))
        self.MAIL_SENDER = env.get("MAIL_SENDER", "Referral <no-reply@referral.localhost>")

        # Proxies in front of the app (a load balancer: 1) whose X-Forwarded-For,
        # -Proto and -Host are believed; 0 believes none, so no client can spoof them.
        self.TRUSTED_PROXIES = _int(env.get("TRUSTED_PROXIES"), 0)
        self.RATELIMIT_STORAGE_URI = env.get("RATELIMIT_STORAGE_URI", "memory://")
        self.RATELIMIT_ENABLED = _bool(env.get("RATELIMIT_ENABLED"), True)
        self.LOGIN_RATE_LIMIT = env.get("LOGIN_RATE_LIMIT", "10 per minute")

        self.JOB_LEASE_SECONDS = _int(env.get("JOB_LEASE_SECONDS"), 300)
        self.JOB_MAX_ATTEMPTS = _int(env.get("JOB_MAX_ATTEMPTS"), 8)
        self.JOB_CLAIM_BATCH = _int(env.get("JOB_CLAIM_BATCH"), 10)
        self.JOB_RETENTION_DAYS = _int(env.get("JOB_RETENTION_DAYS"), 30)

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

        # Stripe. With STRIPE_SECRET_KEY (and no STRIPE_API_BASE) the app talks to
        # real Stripe and needs STRIPE_WEBHOOK_SECRET; without a key it talks to the
        # local stand-in at STRIPE_API_BASE through the same code.
        self.STRIPE_SECRET_KEY = env.get("STRIPE_SECRET_KEY") or None
        self.STRIPE_WEBHOOK_SECRET = env.get("STRIPE_WEBHOOK_SECRET") or None
        self.STRIPE_API_BASE = (env.get("STRIPE_API_BASE") or "").rstrip("/") or None
        self.STRIPE_WEBHOOK_TOLERANCE_SECONDS = _int(
            env.get("STRIPE_WEBHOOK_TOLERANCE_SECONDS"), 300
        )
        self.STRIPE_TIMEOUT_SECONDS = _int(env.get("STRIPE_TIMEOUT_SECONDS"), 20)
        self.PLATFORM_FEE_BPS = _int(env.get("PLATFORM_FEE_BPS"), 500)
        self.SETTLEMENT_INTERVAL_DAYS = _int(env.get("SETTLEMENT_INTERVAL_DAYS"), 7)
        self.SETTLEMENT_RETRY_DAYS = env.get("SETTLEMENT_RETRY_DAYS", "1,3,7")
        self.SETTLEMENT_MINIMUM_CENTS = _int(env.get("SETTLEMENT_MINIMUM_CENTS"), 50)

        self.LOG_LEVEL = env.get("LOG_LEVEL", "INFO").upper()

        self.TESTING = False

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in vars(self).items() if k.isupper()}


class TestConfig(Config):
    """Test settings: a subclass, so production defaults stay the ones tested."""

    __test__ = False  # not a pytest test class

    def __init__(self, env: dict[str, str] | None = None, **overrides: object) -> None:
        super().__init__(env={} if env is None else env)
        self.TESTING = True
        self.SECRET_KEY = "test-" + secrets.token_hex(16)
        self.RATELIMIT_STORAGE_URI = "memory://"
        # Nothing listens on the discard port: a test that needs Stripe starts the stand-in.
        self.STRIPE_API_BASE = "http://127.0.0.1:9"
        self.STRIPE_WEBHOOK_SECRET = "whsec_test_" + secrets.token_hex(16)
        self.STRIPE_TIMEOUT_SECONDS = 5
        for key, value in overrides.items():
            setattr(self, key, value)
