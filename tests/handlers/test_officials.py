"""Officials: broadcasts that survive a crash without double sends, training days, quiz contests,
invitations, and every official command refused to learners and mentors."""

from __future__ import annotations

import datetime as dt
import pathlib
from collections import Counter

import pytest
from sqlalchemy import func, select

from bot.app import App, build_router
from bot.roles import Role
from storage.models import OutboxMessage, Person
from storage.models_commune import Broadcast
from storage.people import PeopleRepo
from tests.harness import Chat, Recorder, start_app


async def make_official(app: App, chat: Chat) -> None:
    await chat.onboard()
    async with app.engine._sessions() as session, session.begin():
        person = (await session.scalars(select(Person).where(Person.ref == chat.person))).one()
        person.is_official = True


async def seed_people(app: App, count: int, opted_out: int) -> None:
    async with app.engine._sessions() as session, session.begin():
        people = PeopleRepo(session)
        for n in range(count):
            person = await people.create(f"test:p{n}", app.engine._community.commune_id)
            person.age_group = "60+" if n % 2 else "30-59"
            person.announcements_off = n < opted_out


async def test_a_broadcast_resumes_after_a_crash_and_sends_each_message_once(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "bot.db"
    app, recorder = await start_app(db)
    official = Chat(app, recorder, person="test:official")
    await make_official(app, official)
    await seed_people(app, 510, opted_out=10)
    await official.say("/thongbao")
    await official.press("Mọi người")
    await official.say("Chủ nhật này 8 giờ sáng, tập huấn cài VNeID tại nhà văn hóa.")
    assert "Sẽ gửi tới **501 người**" in official.text  # 500 villagers and the official; 10 opted out
    await official.press("✅ Gửi")
    assert "Đang gửi tới 501 người" in official.text
    assert await app.engine.deliver_broadcasts(200) == 200
    await app.close()  # the crash: 301 messages still waiting

    app, recorder = await start_app(db, recorder)
    while await app.engine.deliver_broadcasts(100):
        pass
    sent = Counter(who for who, reply in recorder.sent if reply.text.startswith("📣 Thông báo của"))
    assert len(sent) == 501 and set(sent.values()) == {1}
    assert not any(f"test:p{n}" in sent for n in range(10))
    async with app.engine._sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        broadcast = (await session.scalars(select(Broadcast))).one()
    await app.engine.run_due_jobs(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1))
    final = [reply.text for who, reply in recorder.sent if who == "test:official"][-1]
    assert "Đã gửi xong thông báo tới 501 người" in final and "10 người đã tắt" in final
    async with app.engine._sessions() as session:
        assert (await session.get(Broadcast, broadcast.id)).status == "done"  # type: ignore[union-attr]
    await app.close()


async def test_progress_is_reported_while_sending(world: tuple[App, Recorder]) -> None:
    app, recorder = world
    official = Chat(app, recorder, person="test:official")
    await make_official(app, official)
    await seed_people(app, 40, opted_out=0)
    await official.say("/thongbao")
    await official.press("Một nhóm tuổi")
    await official.press("Từ 60 tuổi")
    await official.say("Thông báo cho các cụ.")
    assert "Sẽ gửi tới **21 người**" in official.text  # 20 seeded 60+ and the official (onboarded 60+)
    await official.press("✅ Gửi")
    await app.engine.deliver_broadcasts(5)
    await app.engine.run_due_jobs(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1))
    # 5 sent, and the official's own copy goes out with the progress note to them (their messages keep order)
    assert "Đã gửi 6/21" in [reply.text for who, reply in recorder.sent if who == "test:official"][-1]


async def test_people_can_turn_announcements_off(world: tuple[App, Recorder]) -> None:
    app, recorder = world
    villager = Chat(app, recorder, person="test:v")
    await villager.onboard()
    await villager.say("/tatthongbao")
    official = Chat(app, recorder, person="test:official")
    await make_official(app, official)
    await official.say("/thongbao")
    await official.press("Mọi người")
    await official.say("Xin chào bà con")
    assert "Sẽ gửi tới **1 người**" in official.text
    await villager.say("/batthongbao")
    await official.say("/thongbao")
    await official.press("Mọi người")
    await official.say("Xin chào lần nữa")
    assert "Sẽ gửi tới **2 người**" in official.text
    await official.press("Hủy")
    assert "không gửi gì" in official.text


@pytest.fixture
async def world(tmp_path: pathlib.Path):  # type: ignore[no-untyped-def]
    app, recorder = await start_app(tmp_path / "bot.db")
    yield app, recorder
    await app.close()


async def test_training_day_registration_and_reminder(world: tuple[App, Recorder]) -> None:
    app, recorder = world
    official = Chat(app, recorder, person="test:official")
    await make_official(app, official)
    await official.say("/taolich")
    await official.say("Hướng dẫn cài VNeID")
    when = (dt.datetime.now(dt.UTC) + dt.timedelta(days=4)).astimezone(app.engine._community.timezone)
    await official.say(f"{when:%d/%m} 8:00")
    await official.say("Hội trường UBND xã")
    await official.say("tất cả")
    assert "Đã tạo lịch" in official.text and "8 giờ sáng" in official.text
    villager = Chat(app, recorder, person="test:v")
    await villager.onboard()
    await villager.say("/lich")
    assert "Hướng dẫn cài VNeID" in villager.text
    await villager.press("Đăng ký #1")
    assert "Đã đăng ký" in villager.text
    await villager.choose("join:1")
    assert "đã đăng ký từ trước" in villager.text
    await official.say("/lich")
    assert "1 người đã đăng ký" in official.text
    mark = len(recorder.sent)
    fired = await app.engine.run_due_jobs(dt.datetime.now(dt.UTC) + dt.timedelta(days=4))
    assert fired == 1 and await app.engine.run_due_jobs(dt.datetime.now(dt.UTC) + dt.timedelta(days=4)) == 0
    reminders = {who: reply.text for who, reply in recorder.sent[mark:]}
    assert "Nhắc lịch" in reminders["test:v"] and "1 người đã đăng ký" in reminders["test:official"]


async def test_quiz_contest_once_per_person_and_leaderboard(world: tuple[App, Recorder]) -> None:
    app, recorder = world
    official = Chat(app, recorder, person="test:official")
    await make_official(app, official)
    await official.say("/thitracnghiem")
    await official.say("Thi an toàn trên mạng")
    now = dt.datetime.now(dt.UTC).astimezone(app.engine._community.timezone)
    later = now + dt.timedelta(days=3)
    await official.say(f"{now:%d/%m} 0:00 - {later:%d/%m} 23:00")
    assert "Đã mở cuộc thi" in official.text
    catalog = app.engine._catalog
    for person, right in (("test:a", True), ("test:b", False)):
        chat = Chat(app, recorder, person=person)
        await chat.onboard()
        await chat.say("/thi")
        while "Câu " in chat.text:
            payloads = [c.payload for c in chat.last[-1].flat_choices()]
            _, contest_id, number, _ = payloads[0].split(":")
            async with app.engine._sessions() as session:
                from storage.contests import ContestsRepo

                contest = await ContestsRepo(session).get(int(contest_id))
            assert contest is not None
            lesson_id, question_id = contest.questions[int(number)]
            question = next(q for q in catalog.lesson(lesson_id).quiz.questions if q.id == question_id)  # type: ignore[union-attr]
            pick = question.answer_index if right else (question.answer_index + 1) % len(question.options)
            await chat.choose(payloads[pick])
        assert "đúng" in chat.text
        await chat.say("/thi")
        assert "đã thi rồi" in chat.text
    await official.say("/bangxephang")
    lines = official.text.splitlines()
    assert lines[1].startswith("1. ") and "0/" not in lines[1] and "0/" in lines[2]


async def test_official_invites_another_official(world: tuple[App, Recorder]) -> None:
    app, recorder = world
    official = Chat(app, recorder, person="test:official")
    await make_official(app, official)
    await official.say("/moicb")
    code = official.text.split("**")[1]
    newcomer = Chat(app, recorder, person="test:new")
    await newcomer.onboard()
    await newcomer.say(f"/canbo {code}")
    assert "đã là cán bộ quản lý" in newcomer.text
    await newcomer.say("/thongbao")
    assert "Gửi thông báo cho ai" in newcomer.text
    other = Chat(app, recorder, person="test:other")
    await other.onboard()
    await other.say(f"/canbo {code}")
    assert "không dùng được" in other.text


OFFICIAL_ONLY = sorted(set(dict(build_router().command_menu(Role.OFFICIAL)))
                       - set(dict(build_router().command_menu(Role.MENTOR))))


def test_the_official_command_list_is_what_this_test_covers() -> None:
    assert {"thongbao", "taolich", "thitracnghiem", "moitnv", "moicb", "apphich"} <= set(OFFICIAL_ONLY)


@pytest.mark.parametrize("command", OFFICIAL_ONLY)
async def test_every_official_command_is_refused_to_learners_and_mentors(world: tuple[App, Recorder],
                                                                        command: str) -> None:
    app, recorder = world
    learner = Chat(app, recorder, person="test:learner")
    mentor = Chat(app, recorder, person="test:mentor")
    await learner.onboard()
    await mentor.onboard()
    async with app.engine._sessions() as session, session.begin():
        person = (await session.scalars(select(Person).where(Person.ref == "test:mentor"))).one()
        person.is_mentor = True
    for chat in (learner, mentor):
        await chat.say(f"/{command} Xóm 1")
        assert "dành cho người khác" in chat.text, (command, chat.person, chat.text)
