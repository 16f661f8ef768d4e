"""Logging that never shows a secret: request URLs carry the bot token (…/bot<token>/…), so libraries that log
URLs are kept at WARNING, and every record is scrubbed of the configured secrets as a last line of defence."""

from __future__ import annotations

import logging

from bot.settings import Settings

CHATTY = ("httpx", "httpcore", "telegram.ext.Updater", "aiohttp.access")


class Redact(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        cleaned = message
        for secret in self._secrets:
            cleaned = cleaned.replace(secret, "***")
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def configure(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in CHATTY:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))
    secrets = [value.get_secret_value() for value in (settings.telegram_token, settings.zalo_token,
                                                       settings.webhook_secret) if value is not None]
    redact = Redact(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)
