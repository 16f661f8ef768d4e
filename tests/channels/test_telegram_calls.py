"""The per-update Bot API calls posted as plain JSON (bot/channels/telegram_calls.py), against the fake Bot API:
what reaches the server, and PTB's own judgement of what the server refuses."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot
from telegram.error import BadRequest, Forbidden, RetryAfter

from bot.channels.telegram_calls import BotCalls, keyboard
from bot.channels.telegram_polling import retry_seconds
from bot.channels.telegram_request import AiohttpRequest
from bot.messages import Choice, Reply
from tests.fakes.telegram_api import Failure, FakeTelegram

CHAT = 1001


@pytest.fixture
async def calls(fake: FakeTelegram) -> AsyncIterator[BotCalls]:
    bot = Bot(fake.token, base_url=f"{fake.root}/bot", request=AiohttpRequest(2, read_timeout=2),
              get_updates_request=AiohttpRequest(1, read_timeout=5))
    async with bot:
        yield BotCalls(bot)


def test_the_keyboard_has_the_rows_and_cuts_callback_data_at_64_bytes_on_a_whole_character() -> None:
    reply = Reply(text="Chọn", choices=[[Choice(label="▶ Tiếp tục", payload="next:a:b")],
                                        [Choice(label="Về", payload="x" * 63 + "ệ"), Choice(label="Hỏi", payload="y")]])
    markup = keyboard(reply)
    assert markup is not None
    rows = markup["inline_keyboard"]
    assert [[button["text"] for button in row] for row in rows] == [["▶ Tiếp tục"], ["Về", "Hỏi"]]
    assert rows[0][0]["callback_data"] == "next:a:b"
    assert rows[1][0]["callback_data"] == "x" * 63  # "ệ" is 3 bytes: it would cross the limit
    assert keyboard(Reply(text="Không có nút")) is None


async def test_a_text_goes_as_html_with_its_keyboard(fake: FakeTelegram, calls: BotCalls) -> None:
    markup = {"inline_keyboard": [[{"text": "✅ Làm được rồi", "callback_data": "did:a:b:y"}]]}
    await calls.send_text(CHAT, "Bác bấm <b>Gọi video</b> — [1]", markup)
    await calls.send_text(CHAT, "Không nút", None)
    first, second = fake.calls_to("sendMessage")[-2:]
    assert first.params == {"chat_id": CHAT, "text": "Bác bấm <b>Gọi video</b> — [1]", "parse_mode": "HTML",
                            "reply_markup": markup}
    assert "reply_markup" not in second.params


async def test_a_button_is_answered_and_its_keyboard_taken_off(fake: FakeTelegram, calls: BotCalls) -> None:
    await calls.answer_button("q-77")
    await calls.remove_keyboard(CHAT, 42)
    assert fake.calls_to("answerCallbackQuery")[-1].params == {"callback_query_id": "q-77"}
    assert fake.calls_to("editMessageReplyMarkup")[-1].params == {"chat_id": CHAT, "message_id": 42}


@pytest.mark.parametrize(("failure", "error"), [
    (Failure(429, "Too Many Requests: retry after 3", retry_after=3), RetryAfter),
    (Failure(403, "Forbidden: bot was blocked by the user"), Forbidden),
    (Failure(400, "Bad Request: chat not found"), BadRequest),
])
async def test_what_the_api_refuses_is_ptbs_own_error(fake: FakeTelegram, calls: BotCalls, failure: Failure,
                                                        error: type[Exception]) -> None:
    fake.fail_next("sendMessage", failure)
    with pytest.raises(error) as raised:
        await calls.send_text(CHAT, "Xin chào", None)
    if isinstance(raised.value, RetryAfter):
        assert retry_seconds(raised.value) == 3
