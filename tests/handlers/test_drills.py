"""Scam drills, photo tasks and milestone questions inside a lesson."""

from __future__ import annotations

from sqlalchemy import select

from bot.app import App
from bot.messages import Inbound, InboundKind
from storage.models import ProgressEvent
from tests.harness import Chat, Recorder


async def test_scam_drill_photo_task_and_milestone(chat: Chat, app: tuple[App, Recorder]) -> None:
    await chat.onboard(age="16–29")
    await chat.choose("lesson:bai-chon")
    assert "📩 «[Cong an phuong]" in chat.text and "Bạn làm gì ạ?" in chat.text
    assert chat.labels() == ["Chuyển tiền ngay", "Không làm theo", "🏠 Về menu"]
    await chat.press("Chuyển tiền ngay")
    assert "Chưa đúng" in chat.text and "Công an không bao giờ" in chat.text and "Bước 1/2" in chat.text
    await chat.say("2")  # the option's number
    assert "Đúng rồi" in chat.text and "Bước 2/2" in chat.text and "Đừng chụp giấy tờ" in chat.text
    assert "gửi ảnh vào đây cho mình" in chat.text  # placeholders follow the person's age
    await chat.say("đây ạ")
    assert "Chưa thấy ảnh" in chat.text
    await chat._send(Inbound(person=chat.person, kind=InboundKind.PHOTO, key="garden", photo=b"\xff\xd8jpeg"))
    assert "nhận được ảnh rồi" in chat.text and "Câu 1/1" in chat.text
    await chat.press("Không")
    assert "hoàn thành bài" in chat.text and "thủ tục trên Cổng Dịch vụ công" in chat.text
    assert [c.label for c in chat.last[-1].flat_choices()] == ["✅ Rồi", "Chưa", "🙋 Cần giúp"]
    await chat.press("🙋 Cần giúp")
    assert "Đừng gửi mã OTP" in chat.text  # the help request starts (its consent first)
    async with app[0].engine._sessions() as session:
        event = (await session.scalars(select(ProgressEvent).where(ProgressEvent.kind == "milestone"))).one()
    assert (event.lesson_id, event.step_id, event.value) == ("bai-chon", "public_service", 0)
    await chat.choose("ms:bai-chon:yes")
    assert "Tuyệt vời" in chat.text
