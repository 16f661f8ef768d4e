"""Seeing and deleting one's data (Law 91/2025, Decree 356/2025)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from bot.app import App
from storage.models import ConsentRecord, DataRequest, LessonProgress, OutboxMessage, Person, ProgressEvent
from storage.privacy import ref_hash
from tests.harness import Chat, Recorder


async def rows(app: App, model: type) -> int:
    async with app.engine._sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_delete_my_data_after_confirmation(chat: Chat, app: tuple[App, Recorder]) -> None:
    await chat.onboard()
    await chat.press("📚 Học bài")
    await chat.press("Bài thử")
    await chat.press("Bài 1")
    await chat.press("▶ Tiếp tục")
    other = Chat(*app, person="test:2")
    await other.onboard()

    await chat.say("/xoadulieu")
    assert "có chắc" in chat.text and chat.labels() == ["🗑 Xóa hết dữ liệu", "Không xóa"]
    await chat.press("Không xóa")
    assert await rows(app[0], Person) == 2

    await chat.say("/xoadulieu")
    await chat.press("🗑 Xóa hết dữ liệu")
    assert "đã xóa toàn bộ dữ liệu" in chat.text
    async with app[0].engine._sessions() as session:
        refs = list(await session.scalars(select(Person.ref)))
        consent_refs = list(await session.scalars(select(ConsentRecord.person_ref)))
        request = (await session.scalars(select(DataRequest))).one()
    assert refs == ["test:2"] and consent_refs == ["test:2"]
    assert await rows(app[0], LessonProgress) == 0 and await rows(app[0], ProgressEvent) == 0
    assert await rows(app[0], OutboxMessage) == 0
    assert request.kind == "delete" and request.ref_hash == ref_hash("test:1") and request.done_at is not None
    assert request.due_at - request.requested_at == dt.timedelta(days=20)
    # Starting again is a fresh start: consent first.
    await chat.say("/start")
    assert "Bác có đồng ý không" in chat.text


async def test_delete_when_only_a_refusal_is_stored(chat: Chat, app: tuple[App, Recorder]) -> None:
    await chat.say("/start")
    await chat.press("Không đồng ý")
    assert await rows(app[0], ConsentRecord) == 1
    await chat.say("/xoadulieu")
    assert "không lưu thông tin gì" in chat.text
    assert await rows(app[0], ConsentRecord) == 0


async def test_copy_of_my_data(chat: Chat) -> None:
    await chat.onboard(hamlet="Xóm 3", age="30–59")
    await chat.say("/dulieucuatoi")
    assert "Xóm: Xóm 3" in chat.text and "Nhóm tuổi: 30–59" in chat.text
    assert "đồng ý (bản v2)" in chat.text


async def test_a_stale_delete_button_deletes_nothing(chat: Chat, app: tuple[App, Recorder]) -> None:
    await chat.onboard()
    await chat.choose("erase:yes")  # never asked: a forged or old button
    assert await rows(app[0], Person) == 1
    assert "tin nhắn cũ" in chat.text


async def test_withdrawing_one_consent_keeps_the_rest(chat: Chat, app: tuple[App, Recorder]) -> None:
    await chat.onboard()
    await chat.press("🙋 Hỏi người hỗ trợ")
    await chat.press("✅ Đồng ý")
    await chat.say("/rutdongy")
    assert "Hỏi tình nguyện viên" in chat.text and "Rút: hỏi giúp" in chat.labels()
    await chat.press("Rút: hỏi giúp")
    assert "Đã rút lại: Hỏi tình nguyện viên" in chat.text
    async with app[0].engine._sessions() as session:
        rows = list(await session.scalars(select(ConsentRecord).where(ConsentRecord.purpose == "help")
                                          .order_by(ConsentRecord.id)))
        request = (await session.scalars(select(DataRequest))).one()
    assert [r.granted for r in rows] == [True, False]  # append-only: the first consent is still on record
    assert request.kind == "withdraw" and request.due_at - request.requested_at == dt.timedelta(days=15)
    assert await rows_of(app[0], Person) == 1  # learning continues
    await chat.press("🙋 Hỏi người hỗ trợ")
    assert "Đừng gửi mã OTP" in chat.text  # asked again before a new request
    await chat.say("/rutdongy")
    await chat.press("Rút: học bài")
    await chat.press("🗑 Xóa hết dữ liệu")
    assert await rows_of(app[0], Person) == 0


async def rows_of(app: App, model: type) -> int:
    return await rows(app, model)
