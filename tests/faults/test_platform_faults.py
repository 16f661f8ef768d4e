"""Telegram misbehaving while 20 people each send 5 messages quickly, one after the other.

Bursts of flood control (429 with retry_after), 500/502, requests hanging past the client's read timeout, and
connections dropped (on sendMessage and on getUpdates). Each time: nothing is lost (every message is answered),
nothing is sent twice, and each person's replies come in the order of their messages. When the platform delivered
a message but its answer was lost, the message is sent again: that one is seen twice (at least once, by design).

The in-process app (`start_bot`) polls the fake Bot API, which here honours getUpdates offsets as Telegram does.
"""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
import random
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bot.app import App
from bot.channels import telegram as telegram_channel
from bot.channels.telegram_request import AiohttpRequest
from bot.messages import Inbound
from tests.channels.telegram_helpers import start_bot
from tests.fakes.telegram_api import Failure
from tests.faults.faulty_telegram import Drop, FaultyTelegram

PEOPLE = list(range(301, 321))
# What each message gets back (one marker per reply message); none of these needs consent first.
REPLIES = {
    "/start": ["Cháu là Trợ lý số của", "Bác có đồng ý không ạ?"],
    "/toi": ["Mã tài khoản của bạn"],
    "/trogiup": ["dùng điện thoại từng bước một"],
    "/dulieucuatoi": ["📄 Dữ liệu"],
    "/menu": ["Trước khi học, cháu cần bác đồng ý"],
}
CLIENT_READ_TIMEOUT = 1.0  # the channel's client has a read timeout of 20 s; the timeout test shortens it


def which(text: str) -> str:
    """The reply a delivered text is (command#index), by its marker; the menu's consent text is checked first."""
    order = [("/menu", 0), ("/start", 0), ("/start", 1), ("/toi", 0), ("/trogiup", 0), ("/dulieucuatoi", 0)]
    for command, index in order:
        if REPLIES[command][index] in text:
            return f"{command}#{index}"
    return f"?{text[:40]}"


@pytest.fixture
async def fake() -> AsyncIterator[FaultyTelegram]:
    server = FaultyTelegram()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def bot(fake: FaultyTelegram, tmp_path: pathlib.Path) -> AsyncIterator[App]:
    app = await start_bot(tmp_path / "bot.db", fake)
    await fake.wait_until(lambda: bool(fake.calls_to("getUpdates")), timeout=10, what="polling")
    yield app
    await app.close()


class Conversations:
    """Twenty people, five messages each, sent in quick rounds; what each should get back, in order."""

    def __init__(self, fake: FaultyTelegram, seed: int) -> None:
        rng = random.Random(seed)
        self.fake = fake
        self.plan = {user: rng.sample(list(REPLIES), len(REPLIES)) for user in PEOPLE}
        self.expected = {user: [f"{m}#{i}" for m in self.plan[user] for i in range(len(REPLIES[m]))]
                         for user in PEOPLE}
        self.rng = rng

    async def talk(self, during: Callable[[], None] | None = None, timeout: float = 45) -> dict[int, list[str]]:
        for round_ in range(len(REPLIES)):
            for user in self.rng.sample(PEOPLE, len(PEOPLE)):
                self.fake.queue(self.fake.text_update(user, self.plan[user][round_]))
            await asyncio.sleep(0.05)
            if round_ == 1 and during is not None:
                during()
        with contextlib.suppress(TimeoutError):
            await self.fake.wait_until(
                lambda: all(len(self.fake.chat(u)) >= len(self.expected[u]) for u in PEOPLE), timeout=timeout,
                what="every message answered")
        await asyncio.sleep(2.5)  # a sweep later, nothing more may arrive
        return self.got()

    def got(self) -> dict[int, list[str]]:
        return {user: [which(m.text) for m in self.fake.chat(user)] for user in PEOPLE}


def mine(fake: FaultyTelegram, user: int) -> list[str]:
    return [m.text for m in fake.chat(user)]


async def test_flood_control_bursts_wait_out_retry_after_and_lose_nothing(fake: FaultyTelegram, bot: App) -> None:
    people = Conversations(fake, seed=429)
    fake.fail_next("sendMessage", *[Failure(429, "Too Many Requests: retry after 1", retry_after=1)] * 10)

    def second_burst() -> None:
        fake.fail_next("sendMessage", *[Failure(429, "Too Many Requests: retry after 2", retry_after=2)] * 10)

    assert await people.talk(during=second_burst) == people.expected
    refused = [(call, failure) for call, failure in fake.refused if failure.status == 429]
    assert len(refused) == 20
    for call, failure in refused:  # the refused message went out again only after retry_after
        again = next(m for m in fake.chat(call.params["chat_id"]) if m.text == call.params["text"])
        assert again.at - call.at >= (failure.retry_after or 0) - 0.05


async def test_server_errors_on_sending_and_polling_lose_nothing(fake: FaultyTelegram, bot: App) -> None:
    people = Conversations(fake, seed=500)
    fake.fail_next("sendMessage", *[Failure(500, "Internal Server Error"), Failure(502, "Bad Gateway")] * 6)
    fake.fail_next("getUpdates", Failure(502, "Bad Gateway"), Failure(500, "Internal Server Error"))

    def more() -> None:
        fake.fail_next("sendMessage", *[Failure(502, "Bad Gateway")] * 6)

    assert await people.talk(during=more) == people.expected
    assert len([c for c, _ in fake.refused if c.method == "sendMessage"]) == 18
    assert len([c for c, _ in fake.refused if c.method == "getUpdates"]) == 2


@pytest.fixture
def short_read_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """The channel hard-codes a read timeout of 20 s; a hang of 25 s per fault would make this suite slow."""
    original = telegram_channel.AiohttpRequest

    def shorter(*args: Any, **kwargs: Any) -> AiohttpRequest:
        if kwargs.get("read_timeout") == 20:  # the bot's request, not getUpdates' long poll
            kwargs["read_timeout"] = CLIENT_READ_TIMEOUT
        return original(*args, **kwargs)

    monkeypatch.setattr(telegram_channel, "AiohttpRequest", shorter)


async def test_requests_hanging_past_the_read_timeout_lose_nothing(fake: FaultyTelegram,
                                                                   tmp_path: pathlib.Path,
                                                                   short_read_timeout: None) -> None:
    app = await start_bot(tmp_path / "bot.db", fake)
    try:
        await fake.wait_until(lambda: bool(fake.calls_to("getUpdates")), timeout=10, what="polling")
        people = Conversations(fake, seed=504)
        hang = Failure(504, "Gateway Timeout", delay=CLIENT_READ_TIMEOUT + 2)
        fake.fail_next("sendMessage", *[hang] * 8)
        channel = app.engine.channels["telegram"]
        assert channel.app.bot.request.read_timeout == CLIENT_READ_TIMEOUT  # type: ignore[attr-defined]
        assert await people.talk() == people.expected
        hung = [c for c, f in fake.refused if f.delay]
        assert len(hung) == 8
        for call in hung:  # the client gave up and the outbox sent it again later, once
            again = [m for m in fake.chat(call.params["chat_id"]) if m.text == call.params["text"]]
            assert len(again) == 1 and again[0].at > call.at + CLIENT_READ_TIMEOUT
    finally:
        await app.close()


async def test_dropped_connections_lose_nothing(fake: FaultyTelegram, bot: App) -> None:
    people = Conversations(fake, seed=104)
    fake.drop_next("sendMessage", *[Drop()] * 8)
    # Polling: one request dropped outright, and one whose batch of updates was lost on the way back
    # (Telegram hands those out again, since they were never confirmed).
    fake.drop_next("getUpdates", Drop(), Drop(after=True))
    assert await people.talk() == people.expected
    assert [d for d in fake.dropped if d[0] == "getUpdates"] and len(fake.dropped) == 10
    assert any(n > 1 for n in fake.handed_out.values())  # the lost batch was fetched again, handled once


async def test_an_answer_lost_after_delivery_means_the_message_is_seen_twice_and_nothing_else_is(
        fake: FaultyTelegram, bot: App) -> None:
    """At least once: Telegram delivered it, the bot never heard, so it sends it again (no idempotency key)."""
    people = Conversations(fake, seed=200)
    fake.drop_next("sendMessage", *[Drop(after=True)] * 5)
    got = await people.talk()
    repeated = 0
    for user in PEOPLE:
        collapsed = [r for i, r in enumerate(got[user]) if i == 0 or r != got[user][i - 1]]
        assert collapsed == people.expected[user]  # in order, nothing lost; repeats are adjacent
        repeated += len(got[user]) - len(collapsed)
    assert repeated == 5


# ---- slow sends and the rest of the bot ----------------------------------------------------------

async def test_a_hanging_send_does_not_hold_up_the_commit_of_the_persons_next_message(
        fake: FaultyTelegram, bot: App) -> None:
    fake.fail_next("sendMessage", Failure(500, "Internal Server Error", delay=3.0))
    fake.queue(fake.text_update(401, "/toi"))
    await fake.wait_until(lambda: bool(fake.refused), timeout=10, what="the first reply hanging")
    began = time.monotonic()
    await bot.engine.handle(Inbound.from_text("telegram:401", "/trogiup", key="second-message"),
                            wait_delivery=False)  # what the Telegram channel does: return once committed
    waited = time.monotonic() - began
    assert waited < 1.0, f"the second message was committed only after {waited:.1f} s"


async def test_start_up_delivery_to_a_slow_platform_does_not_delay_polling(fake: FaultyTelegram,
                                                                           tmp_path: pathlib.Path) -> None:
    db = tmp_path / "bot.db"
    app = await start_bot(db, fake)
    users = [501, 502, 503, 504, 505]
    fake.fail_next("sendMessage", *[Failure(502, "Bad Gateway")] * len(users))  # replies stay in the outbox
    for user in users:
        fake.queue(fake.text_update(user, "/toi"))
    await fake.wait_until(lambda: len(fake.refused) == len(users), timeout=10, what="every reply refused")
    await app.close()
    await asyncio.sleep(2.2)  # their retry is due
    fake.fail_next("sendMessage", *[Failure(502, "Bad Gateway", delay=2.0)] * len(users))  # Telegram is slow now
    began = time.monotonic()
    app = await start_bot(db, fake)
    try:
        await fake.wait_until(lambda: any(c.at > began for c in fake.calls_to("getUpdates")), timeout=30,
                              what="polling again")
        polling_after = min(c.at for c in fake.calls_to("getUpdates") if c.at > began) - began
        assert polling_after < 4.0, f"polling started {polling_after:.1f} s after the restart"
    finally:
        await app.close()
