"""A whole lesson with practice and quiz, resuming after a restart, progress — no platform, no network."""

from __future__ import annotations

import pathlib
import re

from sqlalchemy import select

from bot.app import App
from storage.models import LessonProgress, ProgressEvent
from tests.harness import Chat, Recorder, start_app


async def open_lesson(chat: Chat) -> None:
    await chat.onboard()
    await chat.press("📚 Học bài")
    await chat.press("Bài thử")
    await chat.press("Bài 1")


async def test_lesson_steps_practice_and_quiz_with_typed_answers(chat: Chat, app: tuple[App, Recorder]) -> None:
    await open_lesson(chat)
    assert "Bước 1/3 · Bài thử nghiệm" in chat.text
    assert chat.labels() == ["▶ Tiếp tục", "🔁 Nhắc lại", "❓ Chưa hiểu", "🏠 Về menu"]
    await chat.press("🔁 Nhắc lại")
    assert "Bước 1/3" in chat.text
    await chat.press("▶ Tiếp tục")
    assert "Bước 2/3" in chat.text and "gõ vào đây" in chat.text
    await chat.say("1")  # a digit is an answer here, not the first button
    assert "Chưa đúng" in chat.text and "dưới tên người nhận" in chat.text
    await chat.say(" 50000 ")  # punctuation and spaces do not matter
    assert "Đúng rồi" in chat.text and "Bước 3/3" in chat.text
    await chat.press("Chưa làm được")
    assert "Không sao" in chat.text
    await chat.press("▶ Tiếp tục")
    assert "Câu 1/3" in chat.text
    await chat.say("co")  # typed label without diacritics: "Có" — the wrong answer
    assert "Chưa đúng ạ. Đáp án đúng là: **Không**" in chat.text
    assert "Câu 2/3" in chat.text
    await chat.say("2")  # option number: ".gov.vn"
    assert "✅ Đúng rồi" in chat.text and "Câu 3/3" in chat.text
    await chat.say("CÓ ")
    assert "đúng 2/3 câu" in chat.text and "hoàn thành bài" in chat.text
    assert "▶ Bài tiếp theo" in chat.labels()
    async with app[0].engine._sessions() as session:
        progress = (await session.scalars(select(LessonProgress))).one()
        kinds = [e.kind for e in await session.scalars(select(ProgressEvent).order_by(ProgressEvent.id))]
    assert progress.completed_at is not None and progress.best_score == 2 and progress.attempts == 1
    assert kinds.count("lesson_completed") == 1 and "practice_done" in kinds


async def test_failing_the_quiz_offers_a_retry(chat: Chat) -> None:
    await open_lesson(chat)
    await chat.press("▶ Tiếp tục")
    await chat.press("Bỏ qua bước này")
    await chat.press("✅ Làm được rồi")
    for _ in range(3):
        await chat.choose(next(c.payload for r in chat.last for c in r.flat_choices() if c.payload.endswith(":0")))
    assert "đúng 1/3" in chat.text and "cần 2" in chat.text
    assert "hoàn thành" not in chat.text
    await chat.press("🔁 Làm lại câu hỏi")
    assert "Câu 1/3" in chat.text
    await chat.press("Không")
    await chat.press(".gov.vn")
    await chat.press("Có")
    assert "đúng 3/3" in chat.text and "hoàn thành" in chat.text


async def test_old_and_double_pressed_buttons_never_advance_twice(chat: Chat) -> None:
    await open_lesson(chat)
    step_one = next(c.payload for r in chat.last for c in r.flat_choices() if c.label == "▶ Tiếp tục")
    await chat.choose(step_one)
    assert "Bước 2/3" in chat.text
    await chat.choose(step_one)  # the same button again
    assert "tin nhắn cũ" in chat.text and "Bước 2/3" in chat.text
    assert "Bước 3/3" not in chat.text
    await chat.choose("next:bai-thu:ba")  # forged: a step the person has not reached
    assert "tin nhắn cũ" in chat.text and "Bước 2/3" in chat.text
    await chat.choose("ans:bai-thu:q1:1")  # forged quiz answer before the quiz
    assert "tin nhắn cũ" in chat.text and "Câu" not in chat.text


async def test_resume_after_restart_at_the_exact_step(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "bot.db"
    app, recorder = await start_app(db)
    chat = Chat(app, recorder)
    await open_lesson(chat)
    await chat.press("▶ Tiếp tục")
    assert "Bước 2/3" in chat.text
    await app.close()

    app, recorder = await start_app(db)  # a new engine on the same file
    chat = Chat(app, recorder)
    await chat.say("/start")
    assert "học tiếp" in chat.text.lower() and "Bước 2/3" in chat.text
    await chat.say("50.000")
    assert "Bước 3/3" in chat.text
    await chat.press("✅ Làm được rồi")
    await chat.press("Có")  # question 1, wrong
    await app.close()

    app, recorder = await start_app(db)
    chat = Chat(app, recorder)
    await chat.say("/start")
    assert "Câu 2/3" in chat.text  # back in the quiz, at the question they left
    await chat.press(".gov.vn")
    await chat.press("Có")
    assert "hoàn thành" in chat.text
    await app.close()


async def test_menu_resume_and_progress(chat: Chat) -> None:
    await open_lesson(chat)
    await chat.press("▶ Tiếp tục")
    await chat.press("🏠 Về menu")
    assert chat.labels()[0] == "▶ Học tiếp"
    await chat.press("📊 Tiến độ của tôi")
    assert "Bài thử" in chat.text and "░░ 0/2" in chat.text and "Bài tiếp: Bài thử nghiệm" in chat.text
    await chat.press("▶ Học tiếp")
    assert "Bước 2/3" in chat.text
    await chat.say("50.000")
    await chat.press("✅ Làm được rồi")
    for answer in ("Không", ".gov.vn", "Có"):
        await chat.press(answer)
    await chat.say("/tiendo")
    assert "▓░ 1/2" in chat.text and re.search(r"Tiến độ của bác: 1/\d+ bài", chat.text)
    await chat.say("/start")
    assert "Menu chính" in chat.text and "▶ Học tiếp" not in chat.labels()
