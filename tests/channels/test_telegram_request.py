"""The aiohttp request backend (bot/channels/telegram_request.py) against the fake Bot API over real HTTP."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.channels.telegram_request import AiohttpRequest
from tests.channels.telegram_helpers import free_port
from tests.fakes.telegram_api import Failure, FakeTelegram

CHAT = 1001
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


def bot_for(root: str, token: str, request: BaseRequest) -> Bot:
    return Bot(token, base_url=f"{root}/bot", base_file_url=f"{root}/file/bot", request=request,
               get_updates_request=AiohttpRequest(1, read_timeout=5))


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with bot_for(fake.root, fake.token, AiohttpRequest(4, read_timeout=2, connect_timeout=2)) as bot:
        yield bot


async def test_a_message_goes_as_json_and_comes_back_parsed(fake: FakeTelegram, bot: Bot) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Tiếp tục ▶", callback_data="next:1")]])
    message = await bot.send_message(CHAT, "Xin chào bà con — [1] ✅", reply_markup=markup)
    assert message.text == "Xin chào bà con — [1] ✅"
    assert message.chat.id == CHAT
    call = fake.calls_to("sendMessage")[-1]
    assert call.params["chat_id"] == CHAT
    assert call.params["text"] == "Xin chào bà con — [1] ✅"  # a JSON string: not re-read as a JSON list
    assert call.params["reply_markup"] == {"inline_keyboard": [[{"text": "Tiếp tục ▶", "callback_data": "next:1"}]]}
    assert await bot.answer_callback_query("q1") is True


async def test_a_photo_is_uploaded_as_multipart_with_its_name_and_type(fake: FakeTelegram, bot: Bot) -> None:
    message = await bot.send_photo(CHAT, InputFile(PNG, filename="bai-hoc.png"), caption="Mã QR <b>mẫu</b>",
                                   parse_mode="HTML")
    assert message.caption == "Mã QR <b>mẫu</b>"
    call = fake.calls_to("sendPhoto")[-1]
    assert call.files == {"photo": PNG}
    assert call.params["chat_id"] == CHAT and call.params["parse_mode"] == "HTML"

    # A document from a file handle: name and MIME type reach the server in the part's headers.
    parts: list[tuple[str, str, str]] = []
    original = fake._params

    async def spy(request):  # type: ignore[no-untyped-def]
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                parts.append((part.name, part.filename or "", part.headers.get("Content-Type", "")))
            return {}, {}
        return await original(request)

    fake._params = spy  # type: ignore[method-assign]
    await bot.send_document(CHAT, io.BytesIO(b"%PDF-1.4 hello"), filename="giay-chung-nhan.pdf")
    assert ("document", "giay-chung-nhan.pdf", "application/pdf") in parts
    assert [name for name, filename, _ in parts if not filename] == ["chat_id"]


async def test_429_is_retry_after_with_its_seconds(fake: FakeTelegram, bot: Bot) -> None:
    fake.fail_next("sendMessage", Failure(429, "Too Many Requests: retry after 7", retry_after=7))
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(CHAT, "một")
    assert caught.value._retry_after.total_seconds() == 7


async def test_403_is_forbidden_and_400_bad_request(fake: FakeTelegram, bot: Bot) -> None:
    fake.fail_next("sendMessage", Failure(403, "Forbidden: bot was blocked by the user"),
                   Failure(400, "Bad Request: chat not found"))
    with pytest.raises(Forbidden, match="blocked by the user"):
        await bot.send_message(CHAT, "một")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(CHAT, "hai")
    await bot.send_message(CHAT, "ba")  # the connection is still good


async def test_a_slow_answer_is_timed_out(fake: FakeTelegram, bot: Bot) -> None:
    fake.fail_next("sendMessage", Failure(500, "late", delay=3))
    with pytest.raises(TimedOut):
        await bot.send_message(CHAT, "một", read_timeout=0.3)
    assert (await bot.send_message(CHAT, "hai")).text == "hai"


async def test_a_refused_connection_is_a_network_error() -> None:
    async with AiohttpRequest(2) as request:
        with pytest.raises(NetworkError) as caught:
            await request.post(f"http://127.0.0.1:{free_port()}/bot123456:TEST-token/getMe", RequestData())
    assert not isinstance(caught.value, TimedOut)
    assert "aiohttp.ClientConnectorError" in str(caught.value)


async def test_a_request_finding_every_connection_busy_waits_for_pool_timeout_and_is_not_sent(
        fake: FakeTelegram) -> None:
    request = AiohttpRequest(1, read_timeout=5, pool_timeout=0.2)
    async with bot_for(fake.root, fake.token, request) as bot:
        fake.fail_next("sendMessage", Failure(500, "late", delay=1))
        slow = asyncio.create_task(bot.send_message(CHAT, "chậm"))
        await fake.wait_for(lambda f: len(f.calls_to("sendMessage")) == 1)
        with pytest.raises(TimedOut, match="Pool timeout"):
            await bot.send_message(CHAT, "không gửi")
        with pytest.raises(NetworkError):  # the slow one's 500
            await slow
        assert [c.params["text"] for c in fake.calls_to("sendMessage")] == ["chậm"]
        assert (await bot.send_message(CHAT, "sau")).text == "sau"  # the connection came back


async def test_the_pool_bounds_requests_under_way(fake: FakeTelegram) -> None:
    request = AiohttpRequest(3, read_timeout=5, pool_timeout=5)
    async with bot_for(fake.root, fake.token, request) as bot:
        sent = await asyncio.gather(*(bot.send_message(CHAT, str(n)) for n in range(20)))
    assert sorted(int(m.text or "") for m in sent) == list(range(20))


async def test_shutdown_closes_the_session_and_initialize_opens_it_again(fake: FakeTelegram) -> None:
    request = AiohttpRequest(2)
    with pytest.raises(NetworkError, match="not initialized"):
        await request.post(f"{fake.root}/bot{fake.token}/getMe")
    await request.initialize()
    session = request._session
    assert session is not None
    me = await request.post(f"{fake.root}/bot{fake.token}/getMe", RequestData())
    assert isinstance(me, dict) and me["is_bot"] is True
    await request.shutdown()
    assert session.closed and request.closed
    await request.shutdown()  # twice is fine
    with pytest.raises(NetworkError, match="not initialized"):
        await request.post(f"{fake.root}/bot{fake.token}/getMe")
    await request.initialize()
    assert not request.closed and request._session is not session
    assert (await request.post(f"{fake.root}/bot{fake.token}/getMe"))["is_bot"] is True  # type: ignore[index]
    await request.shutdown()


async def test_files_are_downloaded(fake: FakeTelegram, bot: Bot) -> None:
    fake.files["abc"] = PNG
    file = await bot.get_file("abc")
    assert bytes(await file.download_as_bytearray()) == PNG


def test_answers_are_parsed_like_ptb_does() -> None:
    assert AiohttpRequest.parse_json_payload(b'{"ok":true,"result":{"id":12345678901}}') == {
        "ok": True, "result": {"id": 12345678901}}
    assert AiohttpRequest.parse_json_payload(b'{"ok":true,"result":"\xff"}')["result"] == "\ufffd"
    with pytest.raises(TelegramError, match="Invalid server response"):
        AiohttpRequest.parse_json_payload(b"<html>Bad Gateway</html>")
