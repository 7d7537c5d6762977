"""Settings: one TOML file, overridable key by key from the environment.

Search order for the file: `--config PATH`, `$RELIABILITY_CONFIG`, `./reliability.toml`, none.
Any key can be set as `RELIABILITY_<SECTION>__<KEY>`; secrets (SMTP password, Slack tokens)
belong there, not in the file. Unknown keys and bad values are errors that name the key.
"""

from __future__ import annotations

import os
import tomllib
from datetime import date, time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from reliability.calendar import (
    BusinessCalendar,
    CalendarError,
    check_country,
    parse_clock,
    shared_calendar,
    zone,
)
from reliability.limits import DEFAULT_HORIZON_YEARS

DEFAULT_FILE = "reliability.toml"


class ConfigError(Exception):
    """A configuration problem, phrased for the person who wrote the file."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class DatabaseSettings(Section):
    url: str = "sqlite:///reliability.db"


class CalendarSettings(Section):
    default_timezone: str = "UTC"
    default_country: str | None = None
    start_of_day: str = "09:00"
    end_of_day: str = "17:00"
    closures: list[date] = Field(default_factory=list)

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone(value)
        return value

    @field_validator("default_country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        return None if value is None else check_country(value)

    @field_validator("start_of_day", "end_of_day")
    @classmethod
    def _clock(cls, value: str) -> str:
        parse_clock(value)
        return value

    def calendar(self, timezone: str | None = None, country: str | None = None) -> BusinessCalendar:
        """The business calendar of a client or member, with this team's opening hours."""
        return shared_calendar(
            timezone or self.default_timezone,
            country if country is not None else self.default_country,
            parse_clock(self.start_of_day),
            parse_clock(self.end_of_day),
            frozenset(self.closures),
        )


class PolicySettings(Section):
    notice_lead_business_days: int = Field(2, ge=0, le=30)
    checkin_lead_business_days: int = Field(3, ge=0, le=30)
    escalate_business_hours_before_notice: float = Field(4, ge=0, le=80)
    mistake_repeat_window_days: int = Field(180, ge=1, le=3650)
    due_horizon_years: int = Field(DEFAULT_HORIZON_YEARS, ge=1, le=100)


class DigestSettings(Section):
    time: str = "08:30"
    quiet_day: Literal["all_clear", "nothing"] = "all_clear"
    # Each section lists at most this many, worst or soonest first, then says how many more
    # and links the page that lists them all: a daily message a person reads, not a report.
    items_per_section: int = Field(10, ge=1, le=500)

    @field_validator("time")
    @classmethod
    def _clock(cls, value: str) -> str:
        parse_clock(value)
        return value

    @property
    def clock(self) -> time:
        return parse_clock(self.time)


class DeliverySettings(Section):
    max_attempts: int = Field(8, ge=1, le=100)
    lease_seconds: int = Field(120, ge=5)
    backoff_base_seconds: float = Field(30, gt=0)
    backoff_max_seconds: float = Field(3600, gt=0)
    batch_size: int = Field(50, ge=1, le=5000)
    concurrency: int = Field(4, ge=1, le=64)


class SmtpSettings(Section):
    host: str = "localhost"
    port: int = Field(25, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "none"
    username: str | None = None
    password: SecretStr | None = None
    from_address: str = "reliability@localhost"
    from_name: str = "Reliability"
    timeout_seconds: float = Field(30, gt=0)


class SlackSettings(Section):
    bot_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    app_token: SecretStr | None = None
    base_url: str = "https://slack.com/api/"


class TeamSettings(Section):
    """The team's own name, second line of every letter's signature. Left unset, letters
    carry a bracketed placeholder the owner sees at review, not the mail server's name.
    `locale` is the language of what members read unless a member has one of their own."""

    name: str | None = Field(None, max_length=200)
    locale: Literal["en", "sv", "zh"] = "en"


class TemplateSettings(Section):
    dir: Path | None = None


class WebSettings(Section):
    base_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    secret_key: SecretStr | None = None
    metrics_token: SecretStr | None = None
    # The calendar feeds' window: open promises due this many days back to this many ahead.
    feed_days_back: int = Field(30, ge=0, le=3650)
    feed_days_ahead: int = Field(365, ge=1, le=36500)
    # ... and at most this many of them, those due nearest to now.
    feed_max_events: int = Field(2000, ge=1, le=100000)


class WebhookSettings(Section):
    """Outgoing webhooks (docs/api.md, Webhooks). A URL must be https on a public address:
    plain http and private, loopback or link-local addresses are refused unless allowed
    here (for a receiver on the same machine or network), so that an admin's URL cannot
    make the worker reach inside the network."""

    allow_http: bool = False
    allow_private_addresses: bool = False
    timeout_seconds: float = Field(10, gt=0, le=120)
    # Deliveries given up on in a row (each after [delivery] max_attempts tries) before the
    # endpoint is switched off and the admins are emailed.
    disable_after: int = Field(10, ge=1, le=1000)


class SignInSettings(Section):
    """Emailed sign-in links: how many may be asked for, per address and per client IP."""

    links_per_address: int = Field(5, ge=1, le=1000)
    links_per_ip: int = Field(20, ge=1, le=100000)
    window_minutes: int = Field(60, ge=1, le=24 * 60)


class InboxSettings(Section):
    """The IMAP mailbox `reliability inbox --imap` reads: where the team BCCs or forwards
    client mail. The password comes from the environment (RELIABILITY_INBOX__PASSWORD)."""

    host: str | None = None
    port: int = Field(993, ge=1, le=65535)
    ssl: bool = True
    user: str | None = None
    password: SecretStr | None = None
    folder: str = "INBOX"
    # The IMAP keyword set on every message read, besides \Seen.
    keyword: str = Field("$Reliability", pattern=r"^\$?[A-Za-z0-9_.-]{1,64}$")
    poll_seconds: int = Field(60, ge=5, le=24 * 3600)
    timeout_seconds: float = Field(30, gt=0)
    # Where `reliability inbox --smtp` listens for mail delivered by the mail server.
    listen_host: str = "127.0.0.1"
    listen_port: int = Field(2525, ge=1, le=65535)


class SchedulerSettings(Section):
    scan_interval_seconds: int = Field(60, ge=1)
    scan_batch_size: int = Field(500, ge=1)
    deliver_interval_seconds: int = Field(15, ge=1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RELIABILITY_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    calendar: CalendarSettings = Field(default_factory=CalendarSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    digest: DigestSettings = Field(default_factory=DigestSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    team: TeamSettings = Field(default_factory=TeamSettings)
    templates: TemplateSettings = Field(default_factory=TemplateSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    sign_in: SignInSettings = Field(default_factory=SignInSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    inbox: InboxSettings = Field(default_factory=InboxSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment wins over the file, which arrives as init arguments.
        return (env_settings, init_settings)


def find_config_file(explicit: str | os.PathLike[str] | None) -> Path | None:
    if explicit:
        return Path(explicit)
    if from_env := os.environ.get("RELIABILITY_CONFIG"):
        return Path(from_env)
    default = Path(DEFAULT_FILE)
    return default if default.exists() else None


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """Read the settings, or raise a ConfigError naming the file and the key at fault."""
    file = find_config_file(path)
    data: dict[str, Any] = {}
    origin = "defaults and environment"
    if file is not None:
        origin = str(file)
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {file} does not exist") from None
        except OSError as exc:
            raise ConfigError(f"cannot read config file {file}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{file}: not UTF-8 text; save it as UTF-8") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: not valid TOML ({exc})") from None
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, origin)) from None
    except CalendarError as exc:
        raise ConfigError(f"{origin}: {exc}") from None


def _describe(exc: ValidationError, origin: str) -> str:
    problems = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            message = "unknown key (see config.example.toml for the keys that exist)"
        else:
            message = error["msg"].removeprefix("Value error, ")
        section, _, name = key.partition(".")
        where = f"[{section}] {name}" if name else key
        env = "RELIABILITY_" + key.upper().replace(".", "__")
        problems.append(f"{origin}: {where} (or ${env}): {message}")
    return "\n".join(problems)
