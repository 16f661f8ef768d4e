"""Settings from the environment (prefix HOCVUSO_) and an optional .env file. Secrets never get logged."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import pathlib
from typing import TYPE_CHECKING, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from storage.privacy import Retention

DEMO_COMMUNE = "xã Bạch Ngọc"
DEMO_HAMLETS = ",".join(f"Xóm {n}" for n in range(1, 13))


class ConfigError(Exception):
    """The deployment is not configured well enough to start; the message says what to set."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOCVUSO_", env_file=".env", env_file_encoding="utf-8",
                                      extra="ignore")

    database_url: str = "sqlite+aiosqlite:///data/hocvuso.db"
    db_pool_size: int = Field(default=10, ge=1, le=200)  # PostgreSQL: up to twice this many connections per worker
    host: str = "127.0.0.1"
    port: int = 8080
    commune: str = ""
    hamlets: str = ""  # comma-separated: "Xóm 1,Xóm 2,…"
    timezone: str = "Asia/Ho_Chi_Minh"
    lessons_dir: pathlib.Path | None = None
    web_chat: bool = True
    log_level: str = "INFO"
    # uvloop (the default, where it is installed) or the standard library's loop, e.g. to debug with asyncio's tools.
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"
    # Where the platforms reach this server from outside (https://bot.example.vn); turns on webhooks.
    public_url: str = ""
    webhook_secret: SecretStr | None = None
    telegram_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    zalo_token: SecretStr | None = None
    zalo_api_url: str = "https://bot-api.zaloplatforms.com"
    max_photo_bytes: int = 10 * 1024 * 1024
    help_all_mentors_minutes: int = 15  # an unclaimed help request then goes to every mentor
    help_officials_minutes: int = 120  # … and then to the officials
    invite_days: int = 7
    broadcast_per_second: float = 30.0  # announcements (with the replies meanwhile) in any second: Telegram's limit
    help_retention_days: int = 30  # what people wrote in a closed help request is blanked after this
    reuse_port: bool = False  # set for each of several workers sharing one port (hocvuso run --workers N)
    flood_limit: int = 30  # inbounds one person may send per flood window; beyond: one "chậm lại", then dropped
    flood_window_seconds: float = 10.0
    # "970405:1234567890:UBND XA BACH NGOC": the account practice VietQR codes pay to (never confirmed).
    practice_account: str = ""
    # For posters: the Telegram bot's @username (asked from Telegram when empty) and the Zalo chat link.
    telegram_bot_username: str = ""
    zalo_link: str = ""
    media_ttl_hours: int = 24
    # The secret the privacy-request log hashes accounts with (see privacy_key); keep it out of the database.
    privacy_salt: SecretStr | None = None
    privacy_log_days: int = 3 * 365  # the log of view/delete/withdraw requests is purged after this
    declined_days: int = 365  # a "Không đồng ý" from someone who never joined is purged after this

    @field_validator("public_url", "telegram_api_url", "zalo_api_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.strip().rstrip("/")

    @field_validator("commune", "hamlets")
    @classmethod
    def _nfc(cls, value: str) -> str:
        import unicodedata

        return unicodedata.normalize("NFC", value.strip())

    def privacy_key(self) -> bytes:
        """The salt of the privacy-request log: HOCVUSO_PRIVACY_SALT; else derived from the first secret the
        deployment has (Telegram token, Zalo token, webhook secret), so it is never in the database or a backup;
        else (web chat only, whose accounts are random ids) a fixed one. A derived salt changes with its secret:
        requests made before a token change no longer match, so production sets HOCVUSO_PRIVACY_SALT."""
        if self.privacy_salt is not None and self.privacy_salt.get_secret_value():
            return self.privacy_salt.get_secret_value().encode()
        for secret in (self.telegram_token, self.zalo_token, self.webhook_secret):
            if secret is not None and secret.get_secret_value():
                return hmac.new(secret.get_secret_value().encode(), b"hocvuso privacy log salt",
                                hashlib.sha256).digest()
        return b"hocvuso web chat"

    def privacy_retention(self) -> Retention:
        from storage.privacy import Retention

        return Retention(requests=dt.timedelta(days=self.privacy_log_days),
                         declined=dt.timedelta(days=self.declined_days))

    @property
    def hamlet_names(self) -> list[str]:
        return list(dict.fromkeys(name.strip() for name in self.hamlets.split(",") if name.strip()))

    def for_demo(self, database_url: str = "sqlite+aiosqlite:///data/demo.db") -> Settings:
        return self.model_copy(update={"database_url": database_url, "commune": self.commune or DEMO_COMMUNE,
                                       "hamlets": self.hamlets or DEMO_HAMLETS})
