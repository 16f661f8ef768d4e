"""Telegram webhook mode on the bot's own aiohttp server: secret checked, each update processed once."""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from bot.app import App
from storage.models import ConsentRecord, InboxKey, Person
from tests.channels.telegram_helpers import free_port, start_bot
from tests.fakes.telegram_api import FakeTelegram

SECRET = "webhook-secret-0123456789"


@pytest.fixture
async def bot(fake: FakeTelegram, tmp_path: pathlib.Path) -> AsyncIterator[App]:
    port = free_port()
    app = await start_bot(tmp_path / "bot.db", fake, port=port, public_url=f"http://127.0.0.1:{port}",
                          webhook_secret=SecretStr(SECRET))
    yield app
    await app.close()


def url(app: App) -> str:
    return f"http://127.0.0.1:{app.settings.port}/telegram/webhook"


async def post(app: App, body: Any, secret: str | None = SECRET, raw: bytes | None = None) -> int:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    async with aiohttp.ClientSession() as session:
        if raw is not None:
            response = await session.post(url(app), data=raw, headers={**headers, "Content-Type": "application/json"})
        else:
            response = await session.post(url(app), json=body, headers=headers)
        return response.status


async def rows(app: App, model: type) -> int:
    async with app.engine._sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_webhook_is_set_with_the_secret_and_no_polling(fake: FakeTelegram, bot: App) -> None:
    call = fake.calls_to("setWebhook")[-1]
    assert call.params["url"] == url(bot) and call.params["secret_token"] == SECRET
    assert fake.calls_to("getUpdates") == []


async def test_an_update_posted_twice_is_processed_once(fake: FakeTelegram, bot: App) -> None:
    update = fake.text_update(1001, "/start")
    assert await post(bot, update) == 200
    assert await post(bot, update) == 200  # Telegram retries when unsure
    await bot.engine.drain()
    await fake.wait_for(lambda f: len(f.sent(1001)) >= 2)
    assert len(fake.sent(1001)) == 2  # greeting + consent, once
    press = fake.callback_update(1001, "consent:yes")
    assert await post(bot, press) == 200
    await bot.engine.drain()
    assert await rows(bot, Person) == 1 and await rows(bot, InboxKey) == 2


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", SECRET[:-1], SECRET + "x"])
async def test_a_wrong_or_missing_secret_gets_401_and_stores_nothing(fake: FakeTelegram, bot: App,
                                                                     secret: str | None) -> None:
    assert await post(bot, fake.callback_update(1001, "consent:yes"), secret=secret) == 401
    await bot.engine.drain()
    assert await rows(bot, InboxKey) == 0 and await rows(bot, Person) == 0 and await rows(bot, ConsentRecord) == 0
    assert fake.sent(1001) == []


@pytest.mark.parametrize("raw", [b"", b"{", b"[1, 2]", b'"text"', b'{"update_id": "x"}', b"\xff\xfe",
                                 b'{"message": {"text": "hi"}}'])
async def test_broken_bodies_get_400(fake: FakeTelegram, bot: App, raw: bytes) -> None:
    assert await post(bot, None, raw=raw) == 400
    assert await rows(bot, InboxKey) == 0
