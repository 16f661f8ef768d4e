"""The Poller against the fake Bot API (which honours getUpdates offsets as Telegram does), with the real
python-telegram-bot Bot: an update is confirmed only after it was handled; one person's updates are handled in
order; a failed update (Busy) and the ones after it come again, and nothing before it does."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from telegram import Bot, Update

from bot.channels.base import Busy
from bot.channels.telegram_polling import Poller
from tests.faults.faulty_telegram import FaultyTelegram


@contextlib.asynccontextmanager
async def polling(fake: FaultyTelegram, handle: object) -> AsyncIterator[Poller]:
    bot = Bot(fake.token, base_url=f"{fake.root}/bot")
    await bot.initialize()
    poller = Poller(bot, handle, ["message", "callback_query"], timeout=1)  # type: ignore[arg-type]
    task = asyncio.create_task(poller.run())
    try:
        yield poller
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await bot.shutdown()


@pytest.fixture
async def fake() -> AsyncIterator[FaultyTelegram]:
    server = FaultyTelegram()
    await server.start()
    yield server
    await server.stop()


async def test_updates_are_confirmed_only_after_they_were_handled(fake: FaultyTelegram) -> None:
    release = asyncio.Event()
    handled: list[int] = []

    async def handle(update: Update) -> None:
        await release.wait()
        handled.append(update.update_id)

    ids = [fake.queue(fake.text_update(user, "/start"))["update_id"] for user in (1, 2, 3)]
    async with polling(fake, handle):
        await fake.wait_until(lambda: all(fake.handed_out[u] for u in ids), timeout=10, what="handed out")
        await asyncio.sleep(0.5)
        assert not fake.confirmed_at and not handled  # handling is still going on: nothing is confirmed
        release.set()
        await fake.wait_until(lambda: all(u in fake.confirmed_at for u in ids), timeout=10, what="confirmed")
    assert sorted(handled) == ids


async def test_one_persons_updates_are_handled_in_order_and_others_alongside(fake: FaultyTelegram) -> None:
    order: list[tuple[int, str]] = []
    running = 0
    most = 0

    async def handle(update: Update) -> None:
        nonlocal running, most
        assert update.effective_user is not None and update.message is not None
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.05 if update.message.text == "một" else 0.0)  # the first is the slow one
        order.append((update.effective_user.id, str(update.message.text)))
        running -= 1

    for text in ("một", "hai", "ba"):
        fake.queue(fake.text_update(7, text))
    fake.queue(fake.text_update(8, "khác"))
    async with polling(fake, handle):
        await fake.wait_until(lambda: len(order) == 4, timeout=10, what="all handled")
    assert [text for user, text in order if user == 7] == ["một", "hai", "ba"]
    assert most == 2  # person 8 did not wait for person 7


async def test_a_busy_update_and_the_ones_after_it_come_again_and_the_ones_before_do_not(
        fake: FaultyTelegram) -> None:
    seen: list[str] = []
    fail_once = {"hai"}

    async def handle(update: Update) -> None:
        assert update.message is not None
        text = str(update.message.text)
        if text in fail_once:
            fail_once.discard(text)
            raise Busy("database locked")
        seen.append(text)

    ids = [fake.queue(fake.text_update(7, text))["update_id"] for text in ("một", "hai", "ba")]
    async with polling(fake, handle):
        await fake.wait_until(lambda: all(u in fake.confirmed_at for u in ids), timeout=15, what="confirmed")
    assert seen == ["một", "hai", "ba"]  # "ba" waited for "hai"; "một" was not handled twice
    assert fake.handed_out[ids[0]] == 1 and fake.handed_out[ids[1]] == 2 and fake.handed_out[ids[2]] == 2
