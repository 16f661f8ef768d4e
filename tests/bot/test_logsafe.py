"""Secrets never reach the logs, even when a library logs a URL with the token in it."""

from __future__ import annotations

import logging

import pytest
from pydantic import SecretStr

from bot.logsafe import Redact, configure
from bot.settings import Settings


def test_records_are_scrubbed_of_tokens(caplog: pytest.LogCaptureFixture) -> None:
    token = "123456:ABC-secret-token"
    logger = logging.getLogger("test.logsafe")
    handler = logging.StreamHandler()
    handler.addFilter(Redact([token]))
    record = logger.makeRecord("x", logging.INFO, __file__, 1, "POST https://api.telegram.org/bot%s/getMe",
                               (token,), None)
    handler.filter(record)
    assert token not in record.getMessage() and "***" in record.getMessage()


def test_configure_quiets_url_loggers() -> None:
    settings = Settings(_env_file=None, telegram_token=SecretStr("123456:ABC-secret-token"),  # type: ignore[call-arg]
                        log_level="INFO")
    configure(settings)
    assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING
    assert any(isinstance(f, Redact) for h in logging.getLogger().handlers for f in h.filters)
