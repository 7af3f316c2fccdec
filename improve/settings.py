"""The service's settings: the only module that reads the environment.

Every variable is declared once in ``VARIABLES`` with its default and meaning; the
README's configuration table lists the same names (a test keeps the two in step).
Any variable can instead be given as ``<NAME>_FILE``: a path whose contents are the
value, so secrets can come from Docker or Kubernetes secret files.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Mode = Literal["production", "dev", "demo"]
SmtpSecurity = Literal["starttls", "tls", "none"]


class SettingsError(Exception):
    """A setting is missing or wrong. The message is one line saying what to set."""


@dataclass(frozen=True)
class Variable:
    name: str
    default: str
    doc: str


VARIABLES: tuple[Variable, ...] = (
    Variable(
        "IMPROVE_MODE",
        "production",
        "`production`, `dev` or `demo`. Outside production a missing secret key is tolerated.",
    ),
    Variable(
        "IMPROVE_DATABASE_URL",
        "sqlite:///var/improve.sqlite",
        "`sqlite:///relative/path.sqlite`, `sqlite:////absolute/path.sqlite` "
        "or `postgresql://user:password@host:5432/dbname`.",
    ),
    Variable(
        "IMPROVE_SECRET_KEY",
        "",
        "Signs CSRF tokens. Required in production: at least 32 characters, not a placeholder.",
    ),
    Variable(
        "IMPROVE_BASE_URL",
        "http://127.0.0.1:8000",
        "Public address, used in links in emails; `https://` makes cookies Secure.",
    ),
    Variable("IMPROVE_TIMEZONE", "Europe/London", "Time zone for dates shown and for schedules."),
    Variable("IMPROVE_LOG_LEVEL", "INFO", "Python logging level."),
    Variable("IMPROVE_SESSION_HOURS", "12", "A login lasts this long without activity."),
    Variable(
        "IMPROVE_LOGIN_FREE_ATTEMPTS",
        "5",
        "Failed logins allowed for an email before it is locked out for a while.",
    ),
    Variable(
        "IMPROVE_LOGIN_ADDRESS_ATTEMPTS",
        "30",
        "Failed logins allowed from one client address (an IPv6 client's /64) in a 15-minute"
        " window; then the login form answers 429 until the window ends.",
    ),
    Variable(
        "IMPROVE_LOGIN_CONCURRENT_HASHES",
        "4",
        "Passwords an app instance hashes at once (argon2id: 64 MiB each); a request that"
        " waits 2 seconds without a turn gets 503 with Retry-After.",
    ),
    Variable(
        "IMPROVE_SUSTAIN_MONTHS",
        "12",
        "After the rating recovers, a case keeps being watched this many months.",
    ),
    Variable(
        "IMPROVE_UPLOAD_DIR",
        "var/uploads",
        "Where evidence files are stored (outside the database, under random names).",
    ),
    Variable("IMPROVE_UPLOAD_MAX_MB", "10", "Largest evidence file accepted, in megabytes."),
    Variable(
        "IMPROVE_SCHEDULER",
        "on",
        "`on`: the web app runs the scheduled jobs itself; `off`: run `improve jobs run` "
        "(or cron with `improve jobs run-once`) instead.",
    ),
    Variable(
        "IMPROVE_MAIL_PAUSE_SECONDS",
        "0.5",
        "Pause between two emails, to respect the mail server's sending limits.",
    ),
    Variable(
        "IMPROVE_MAIL_MAX_ATTEMPTS",
        "8",
        "Tries before an email is given up as failed (with growing waits between).",
    ),
    Variable(
        "IMPROVE_MAIL_LEASE_SECONDS",
        "600",
        "How long a sender's claim on an email lasts without renewal; a sender renews it"
        " while it sends, so only a sender that died loses it.",
    ),
    Variable(
        "IMPROVE_MAIL_BATCH",
        "200",
        "Emails one delivery run takes at most (the rest wait for the next run).",
    ),
    Variable(
        "IMPROVE_SMTP_TIMEOUT_SECONDS",
        "30",
        "How long to wait for the mail server at each step before giving up on a send.",
    ),
    Variable(
        "IMPROVE_REVIEW_REMINDER_DAYS", "3", "Remind attendees this many days before a review."
    ),
    Variable(
        "IMPROVE_ACTION_REMINDER_DAYS",
        "7",
        "Remind an action's owner this many days before it is due.",
    ),
    Variable(
        "IMPROVE_RUNCHART_BASELINE",
        "12",
        "Run charts: how many first points make the baseline whose median is drawn.",
    ),
    Variable(
        "IMPROVE_RUNCHART_SHIFT",
        "6",
        "Run charts: points in a row on one side of the median that make a shift.",
    ),
    Variable(
        "IMPROVE_RUNCHART_TREND",
        "5",
        "Run charts: points in a row going one way that make a trend.",
    ),
    Variable(
        "IMPROVE_COMMISSIONER_PLAN_DAYS",
        "14",
        "Days a provider has to send an action plan after a commissioner's visit (PAMMS).",
    ),
    Variable("IMPROVE_DB_POOL_SIZE", "10", "PostgreSQL connections per app instance."),
    Variable(
        "IMPROVE_KEPT_VIEWS_MB",
        "64",
        "Memory per app instance for kept views (portfolios and case pages, computed once per"
        " state of the data); 0 computes every view each time.",
    ),
    Variable("IMPROVE_SMTP_HOST", "", "SMTP server for email; empty means email is not sent."),
    Variable("IMPROVE_SMTP_PORT", "587", "SMTP port."),
    Variable("IMPROVE_SMTP_SECURITY", "starttls", "`starttls`, `tls` or `none`."),
    Variable("IMPROVE_SMTP_USERNAME", "", "SMTP login name (empty: no login)."),
    Variable("IMPROVE_SMTP_PASSWORD", "", "SMTP password."),
    Variable("IMPROVE_MAIL_FROM", "improve@localhost", "From address of emails."),
    Variable(
        "IMPROVE_USER_PASSWORD",
        "",
        "Password for `improve user create` in scripts (otherwise it asks).",
    ),
)

_DEFAULTS = {v.name: v.default for v in VARIABLES}

# Placeholders people paste from examples; never accepted as a production key.
_WEAK_KEYS = {"changeme", "change-me", "secret", "password", "development", "insecure", "test"}
MIN_KEY_LENGTH = 32


def _read(name: str, environ: dict[str, str]) -> str:
    """The value of ``name``, from ``name_FILE`` when that is set."""
    if name not in _DEFAULTS:
        raise KeyError(f"{name} is not declared in improve.settings.VARIABLES")
    file_path = environ.get(f"{name}_FILE")
    if file_path:
        try:
            return Path(file_path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingsError(f"{name}_FILE: cannot read {file_path} ({exc.strerror})") from exc
    return environ.get(name, _DEFAULTS[name])


def _int(name: str, environ: dict[str, str], minimum: int = 0) -> int:
    raw = _read(name, environ)
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}")
    return value


def _float(name: str, environ: dict[str, str]) -> float:
    raw = _read(name, environ)
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from None
    if value < 0:
        raise SettingsError(f"{name} cannot be negative")
    return value


def _choice(name: str, environ: dict[str, str], allowed: tuple[str, ...]) -> str:
    value = _read(name, environ).strip().lower()
    if value not in allowed:
        raise SettingsError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value


@dataclass(frozen=True)
class Settings:
    mode: Mode = "production"
    database_url: str = _DEFAULTS["IMPROVE_DATABASE_URL"]
    secret_key: str = ""
    base_url: str = _DEFAULTS["IMPROVE_BASE_URL"]
    timezone: str = "Europe/London"
    log_level: str = "INFO"
    session_hours: int = 12
    login_free_attempts: int = 5
    login_address_attempts: int = 30
    login_concurrent_hashes: int = 4
    db_pool_size: int = 10
    kept_views_mb: int = 64
    sustain_months: int = 12
    upload_dir: str = "var/uploads"
    upload_max_mb: int = 10
    scheduler: bool = True
    mail_pause_seconds: float = 0.5
    mail_max_attempts: int = 8
    mail_lease_seconds: int = 600
    mail_batch: int = 200
    smtp_timeout_seconds: float = 30
    review_reminder_days: int = 3
    action_reminder_days: int = 7
    runchart_baseline: int = 12
    runchart_shift: int = 6
    runchart_trend: int = 5
    commissioner_plan_days: int = 14
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: SmtpSecurity = "starttls"
    smtp_username: str = ""
    smtp_password: str = field(default="", repr=False)
    mail_from: str = "improve@localhost"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite:")

    @property
    def sqlite_path(self) -> Path:
        """SQLAlchemy's convention: three slashes relative, four absolute."""
        return Path(self.database_url.removeprefix("sqlite:///"))

    def check(self) -> Settings:
        """Refuse settings the service must not start with; returns self."""
        if not (self.is_sqlite or self.database_url.startswith(("postgresql://", "postgres://"))):
            raise SettingsError("IMPROVE_DATABASE_URL must start with sqlite:/// or postgresql://")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"IMPROVE_TIMEZONE: unknown time zone {self.timezone!r}") from None
        if not self.base_url.startswith(("http://", "https://")):
            raise SettingsError("IMPROVE_BASE_URL must start with http:// or https://")
        if self.mode == "production":
            problem = key_weakness(self.secret_key)
            if problem:
                raise SettingsError(
                    f"IMPROVE_SECRET_KEY {problem}: set it to a random string of at least "
                    f'{MIN_KEY_LENGTH} characters (python -c "import secrets; '
                    'print(secrets.token_urlsafe(48))"), or set IMPROVE_MODE=dev for local use'
                )
        return self


def key_weakness(key: str) -> str | None:
    if not key:
        return "is not set"
    if key.strip().lower() in _WEAK_KEYS:
        return "is a placeholder"
    if len(key) < MIN_KEY_LENGTH:
        return f"is too short ({len(key)} characters)"
    if len(set(key)) < 10:
        return "is too repetitive"
    return None


def from_environ(environ: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    mode = _choice("IMPROVE_MODE", env, ("production", "dev", "demo"))
    key = _read("IMPROVE_SECRET_KEY", env)
    if not key and mode != "production":
        # dev and demo run without configuration; this key lives only as long as the process
        key = secrets.token_urlsafe(48)
    return Settings(
        mode=mode,  # type: ignore[arg-type]
        database_url=_read("IMPROVE_DATABASE_URL", env),
        secret_key=key,
        base_url=_read("IMPROVE_BASE_URL", env).rstrip("/"),
        timezone=_read("IMPROVE_TIMEZONE", env),
        log_level=_read("IMPROVE_LOG_LEVEL", env).upper(),
        session_hours=_int("IMPROVE_SESSION_HOURS", env, minimum=1),
        login_free_attempts=_int("IMPROVE_LOGIN_FREE_ATTEMPTS", env, minimum=1),
        login_address_attempts=_int("IMPROVE_LOGIN_ADDRESS_ATTEMPTS", env, minimum=1),
        login_concurrent_hashes=_int("IMPROVE_LOGIN_CONCURRENT_HASHES", env, minimum=1),
        db_pool_size=_int("IMPROVE_DB_POOL_SIZE", env, minimum=1),
        kept_views_mb=_int("IMPROVE_KEPT_VIEWS_MB", env, minimum=0),
        sustain_months=_int("IMPROVE_SUSTAIN_MONTHS", env, minimum=1),
        upload_dir=_read("IMPROVE_UPLOAD_DIR", env),
        upload_max_mb=_int("IMPROVE_UPLOAD_MAX_MB", env, minimum=1),
        scheduler=_choice("IMPROVE_SCHEDULER", env, ("on", "off")) == "on",
        mail_pause_seconds=_float("IMPROVE_MAIL_PAUSE_SECONDS", env),
        mail_max_attempts=_int("IMPROVE_MAIL_MAX_ATTEMPTS", env, minimum=1),
        mail_lease_seconds=_int("IMPROVE_MAIL_LEASE_SECONDS", env, minimum=3),
        mail_batch=_int("IMPROVE_MAIL_BATCH", env, minimum=1),
        smtp_timeout_seconds=_float("IMPROVE_SMTP_TIMEOUT_SECONDS", env),
        review_reminder_days=_int("IMPROVE_REVIEW_REMINDER_DAYS", env, minimum=0),
        runchart_baseline=_int("IMPROVE_RUNCHART_BASELINE", env, minimum=1),
        runchart_shift=_int("IMPROVE_RUNCHART_SHIFT", env, minimum=2),
        runchart_trend=_int("IMPROVE_RUNCHART_TREND", env, minimum=2),
        commissioner_plan_days=_int("IMPROVE_COMMISSIONER_PLAN_DAYS", env, minimum=1),
        action_reminder_days=_int("IMPROVE_ACTION_REMINDER_DAYS", env, minimum=0),
        smtp_host=_read("IMPROVE_SMTP_HOST", env),
        smtp_port=_int("IMPROVE_SMTP_PORT", env, minimum=1),
        smtp_security=_choice("IMPROVE_SMTP_SECURITY", env, ("starttls", "tls", "none")),  # type: ignore[arg-type]
        smtp_username=_read("IMPROVE_SMTP_USERNAME", env),
        smtp_password=_read("IMPROVE_SMTP_PASSWORD", env),
        mail_from=_read("IMPROVE_MAIL_FROM", env),
    )


def child_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a program we run (pg_dump, psql): ours, plus ``extra``."""
    return {**os.environ, **(extra or {})}


def cli_password() -> str:
    """The password ``improve user create`` takes from the environment ('' if unset)."""
    return _read("IMPROVE_USER_PASSWORD", dict(os.environ))


_current: Settings | None = None


def get_settings() -> Settings:
    """The process's settings, read from the environment on first use."""
    global _current
    if _current is None:
        _current = from_environ()
    return _current


def use(settings: Settings) -> Settings:
    """Make ``settings`` the process's settings (the demo command and tests use this)."""
    global _current
    _current = settings
    return settings


def override(**changes: object) -> Settings:
    return use(replace(get_settings(), **changes))


def point_piccolo_here() -> None:
    """Piccolo finds its engine through the PICCOLO_CONF module name; ours is fixed."""
    os.environ.setdefault("PICCOLO_CONF", "improve.piccolo_conf")
