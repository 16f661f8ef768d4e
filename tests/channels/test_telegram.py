"""The real python-telegram-bot channel against a fake Bot API server: polling, buttons, photos, faults."""

from __future__ import annotations

import asyncio
import pathlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import App
from bot.messages import Reply
from storage.models import Hamlet, InboxKey, Person
from tests.channels.telegram_helpers import TgUser, buttons, start_bot
from tests.fakes.telegram_api import Failure, FakeTelegram


@pytest.fixture
async def bot(fake: FakeTelegram, tmp_path: pathlib.Path) -> AsyncIterator[App]:
    app = await start_bot(tmp_path / "bot.db", fake)
    yield app
    await app.close()


async def person(app: App, user_id: int = 1001) -> Person | None:
    async with app.engine._sessions() as session:
        return (await session.scalars(select(Person).where(Person.ref == f"telegram:{user_id}"))).first()


async def test_polling_onboarding_and_a_full_lesson(fake: FakeTelegram, bot: App) -> None:
    user = TgUser(fake, bot)
    await user.say("/start")
    assert "Trợ lý số của xã Bạch Ngọc" in user.text
    assert "máy chủ của Telegram ở nước ngoài" in user.text  # cross-border transfer, told before consent
    assert user.labels() == ["✅ Đồng ý", "Không đồng ý"]
    assert all(len(data.encode()) <= 64 for c in user.last for _, data in buttons(c))
    assert user.last[-1].params["parse_mode"] == "HTML"
    await user.press("✅ Đồng ý")
    assert "xóm nào" in user.text and user.labels()[:2] == ["Xóm 1", "Xóm 2"]
    await user.press("Xóm 2")
    await user.say("Từ 60 tuổi")  # typed instead of pressed
    assert "Menu chính" in user.text
    await user.press("📚 Học bài")
    await user.press("Bài thử")
    await user.press("Bài 1")
    assert "📘 <b>Bài thử nghiệm</b>" in user.text and "Bước 1/3" in user.text
    assert user.labels() == ["▶ Tiếp tục", "🔁 Nhắc lại", "❓ Chưa hiểu", "🏠 Về menu"]
    await user.press("▶ Tiếp tục")
    await user.say("50.000")
    await user.press("✅ Làm được rồi")
    assert "Câu 1/3" in user.text
    await user.say("khong")
    await user.say("2")
    await user.press("Có")
    assert "đúng 3/3" in user.text and "hoàn thành bài <b>Bài thử nghiệm</b>" in user.text
    # Every button press was answered, and its keyboard taken off the old message.
    await fake.wait_for(lambda f: len(f.calls_to("answerCallbackQuery")) == 8)
    await fake.wait_for(lambda f: len(f.calls_to("editMessageReplyMarkup")) == 8)
    # The command menu is Vietnamese.
    commands = fake.calls_to("setMyCommands")[0].params["commands"]
    assert {"command": "start", "description": "Bắt đầu, hoặc học tiếp chỗ đang dừng"} in commands


async def test_a_deep_link_preselects_the_hamlet(fake: FakeTelegram, bot: App) -> None:
    user = TgUser(fake, bot)
    await user.say("/start xom-3")
    await user.press("✅ Đồng ý")
    assert "Cháu ghi bác ở <b>Xóm 3</b>" in user.text and "nhóm tuổi" in user.text
    saved = await person(bot)
    assert saved is not None
    async with bot.engine._sessions() as session:
        hamlet = await session.get(Hamlet, saved.hamlet_id)
    assert hamlet is not None and hamlet.name == "Xóm 3"
    other = TgUser(fake, bot, user_id=1002)
    await other.say("/start no-such-hamlet")
    await other.press("✅ Đồng ý")
    assert "xóm nào" in other.text


async def test_stale_and_forged_buttons_change_nothing(fake: FakeTelegram, bot: App) -> None:
    user = TgUser(fake, bot)
    await user.onboard()
    await user.press("📚 Học bài")
    await user.press("Bài thử")
    await user.press("Bài 1")
    step_one = user.data_of("▶ Tiếp tục")
    await user.tap(step_one)
    assert "Bước 2/3" in user.text
    saved = await person(bot)
    assert saved is not None
    state = dict(saved.state)
    for data in (step_one, "next:bai-thu:ba", "ans:bai-thu:q9:7", "x" * 64, "lesson:../../etc", "🙂"):
        await user.tap(data)
        assert user.last, data
        assert "Bước 3/3" not in user.text and "hoàn thành" not in user.text
        now = await person(bot)
        assert now is not None and now.state["step"] == state["step"] == "hai"


async def test_photos_arrive_as_bytes_with_a_size_cap(fake: FakeTelegram, bot: App) -> None:
    user = TgUser(fake, bot)
    await user.onboard()
    await user._exchange(fake.photo_update(1001, b"\x89PNG fake image bytes" * 10))
    assert "đã nhận ảnh" in user.text
    await fake.wait_for(lambda f: any(c.params.get("file_id", "").startswith("photo") for c in f.calls_to("getFile")))
    await user._exchange(fake.photo_update(1001, b"small", size=50 * 1024 * 1024))
    assert "Ảnh này lớn quá" in user.text
    await user._exchange(fake.sticker_update(1001))
    assert "chưa đọc được loại tin này" in user.text


async def test_long_texts_are_split_and_images_uploaded(fake: FakeTelegram, bot: App) -> None:
    channel = bot.engine.channels["telegram"]
    paragraph = "Bác đọc chậm từng dòng nhé. " * 40
    await channel.send("telegram:1001", Reply(text="\n\n".join([paragraph] * 9)))
    texts = [c.params["text"] for c in fake.sent(1001)]
    assert len(texts) >= 3 and all(len(t) <= 4096 for t in texts)
    await channel.send("telegram:1001", Reply(text="Mã QR của bác", image=b"\x89PNG\r\n\x1a\n-image-"))
    photo = fake.calls_to("sendPhoto")[-1]
    assert photo.files["photo"] == b"\x89PNG\r\n\x1a\n-image-" and photo.params["caption"] == "Mã QR của bác"


async def test_flood_control_waits_out_retry_after_and_sends_once(fake: FakeTelegram, bot: App) -> None:
    fake.fail_next("sendMessage", Failure(429, "Too Many Requests: retry after 1", retry_after=1))
    update = fake.queue(fake.text_update(1001, "/start"))
    await fake.wait_for(lambda f: len([c for c in f.calls_to("sendMessage") if c.params["chat_id"] == 1001]) >= 3,
                        timeout=15)
    attempts = [c for c in fake.calls_to("sendMessage") if c.params["chat_id"] == 1001]
    greeting = [c for c in attempts if "Trợ lý số của xã" in c.params["text"]]
    assert len(greeting) == 2  # the refused attempt and the one delivery
    assert greeting[1].at - greeting[0].at >= 1.0
    await asyncio.sleep(2.5)  # a sweep or two later: still exactly once
    delivered = [c for c in fake.calls_to("sendMessage") if "Trợ lý số của xã" in c.params["text"]]
    assert len(delivered) == 2 and update["update_id"]


async def test_network_errors_and_5xx_go_back_to_the_outbox(fake: FakeTelegram, bot: App) -> None:
    fake.fail_next("sendMessage", Failure(502, "Bad Gateway"), Failure(500, "Internal Server Error"))
    fake.queue(fake.text_update(1001, "/start"))
    await fake.wait_for(lambda f: any("Bác có đồng ý không" in c.params["text"] for c in f.calls_to("sendMessage")),
                        timeout=20)
    texts = [c.params["text"] for c in fake.calls_to("sendMessage")]
    assert sum("Trợ lý số của xã" in t for t in texts) == 3  # two failures, one delivery
    assert sum("Bác có đồng ý không" in t for t in texts) == 1


async def test_a_blocked_bot_marks_the_person_until_they_return(fake: FakeTelegram, bot: App) -> None:
    user = TgUser(fake, bot)
    await user.onboard()
    fake.fail_next("sendMessage", Failure(403, "Forbidden: bot was blocked by the user"))
    fake.queue(fake.text_update(1001, "/menu"))
    await fake.wait_for(lambda f: any(c.method == "sendMessage" for c in f.calls[-1:]) and bool(f.calls))
    for _ in range(50):
        saved = await person(bot)
        if saved is not None and saved.unreachable_since is not None:
            break
        await asyncio.sleep(0.1)
    assert saved is not None and saved.unreachable_since is not None
    await user.say("/menu")  # they unblocked and wrote again
    assert "Menu chính" in user.text
    saved = await person(bot)
    assert saved is not None and saved.unreachable_since is None


async def test_per_chat_command_lists_for_mentors_and_officials(fake: FakeTelegram, tmp_path: pathlib.Path) -> None:
    app = await start_bot(tmp_path / "bot.db", fake)
    user = TgUser(fake, app, user_id=2002)
    await user.onboard()
    async with app.engine._sessions() as session, session.begin():
        saved = (await session.scalars(select(Person))).one()
        saved.is_official = True
    await app.close()
    app = await start_bot(tmp_path / "bot.db", fake)
    try:
        def chat_scoped(f: FakeTelegram) -> list[Any]:
            return [c for c in f.calls_to("setMyCommands") if (c.params.get("scope") or {}).get("type") == "chat"]

        await fake.wait_for(lambda f: bool(chat_scoped(f)))  # set in the background once polling runs
        scoped = chat_scoped(fake)
        assert scoped[-1].params["scope"]["chat_id"] == 2002
        names = [c["command"] for c in scoped[-1].params["commands"]]
        assert names[0] == "start" and "xoadulieu" in names
    finally:
        await app.close()


async def test_inbox_holds_one_key_per_update(fake: FakeTelegram, bot: App) -> None:
    user = TgUser(fake, bot)
    await user.say("/start")
    async with bot.engine._sessions() as session:
        assert await session.scalar(select(func.count()).select_from(InboxKey)) == 1
