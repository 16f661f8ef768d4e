"""Volunteer mentors: invites, pings to the hamlet's mentors, first claim wins, relay without ids or phone
numbers, timers that move a request up across a restart, rating, reopening, 1-1 meetings, assisted steps."""

from __future__ import annotations

import asyncio
import datetime as dt
import pathlib
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.app import App
from bot.messages import Inbound, InboundKind, Reply
from storage.invites import InvitesRepo
from storage.models import LessonProgress, Person, ProgressEvent
from storage.models_help import Escalation, Job, Meeting
from tests.harness import Chat, Recorder, start_app


@pytest.fixture
async def world(tmp_path: pathlib.Path) -> AsyncIterator[tuple[App, Recorder]]:
    app, recorder = await start_app(tmp_path / "bot.db")
    yield app, recorder
    await app.close()


def inbox(recorder: Recorder, person: str, since: int = 0) -> list[Reply]:
    return [reply for who, reply in recorder.sent[since:] if who == person]


async def make_official(app: App, chat: Chat) -> None:
    await chat.onboard()
    async with app.engine._sessions() as session, session.begin():
        person = (await session.scalars(select(Person).where(Person.ref == chat.person))).one()
        person.is_official, person.display_name = True, "Chị Hoa – VHXH"


async def invite_code(app: App) -> str:
    async with app.engine._sessions() as session, session.begin():
        return await InvitesRepo(session).create("mentor", app.engine._community.commune_id, dt.timedelta(days=7))


async def become_mentor(app: App, chat: Chat, name: str, hamlets: str) -> None:
    await chat.onboard(hamlet="Xóm 1", age="16–29")
    await chat.say(f"/tnv {await invite_code(app)}")
    await chat.press("✅ Đồng ý")
    await chat.say(name)
    await chat.say(hamlets)
    assert "Bạn phụ trách" in chat.text


async def stuck_villager(app: App, recorder: Recorder, hamlet: str = "Xóm 2", question: str = "Cháu ơi, bác không "
                         "thấy nút QR, số bác là 0912 345 678", expect: str = "đã báo tình nguyện viên") -> Chat:
    villager = Chat(app, recorder, person="test:villager")
    await villager.onboard(hamlet=hamlet)
    await villager.press("📚 Học bài")
    await villager.press("Bài thử")
    await villager.press("Bài 1")
    await villager.press("❓ Chưa hiểu")
    assert "Đừng gửi mã OTP" in villager.text
    await villager.press("✅ Đồng ý")
    await villager.say(question)
    assert expect in villager.text
    return villager


async def case_of(app: App) -> Escalation:
    async with app.engine._sessions() as session:
        return (await session.scalars(select(Escalation))).one()


async def test_invite_codes_are_single_use_and_expire(world: tuple[App, Recorder]) -> None:
    app, recorder = world
    official = Chat(app, recorder, person="test:official")
    await make_official(app, official)
    await official.say("/moitnv")
    code = official.text.split("**")[1]
    first = Chat(app, recorder, person="test:a")
    await first.onboard()
    await first.say("/tnv SAI-MA-123")
    assert "không dùng được" in first.text
    await first.say(f"/tnv {code.lower()}")  # case does not matter
    assert "Trợ lý số lưu" in first.text
    second = Chat(app, recorder, person="test:b")
    await second.onboard()
    await second.say(f"/tnv {code}")
    assert "không dùng được" in second.text  # used already
    async with app.engine._sessions() as session, session.begin():
        expired = await InvitesRepo(session).create("mentor", 1, dt.timedelta(seconds=-1))
    await second.say(f"/tnv {expired}")
    assert "không dùng được" in second.text
    stranger = Chat(app, recorder, person="test:c")
    await stranger.onboard()
    await stranger.say("/moitnv")
    assert "dành cho người khác" in stranger.text
    for command in ("/nhan 1", "/xong", "/ca", "/nghi"):
        await stranger.say(command)
        assert "dành cho người khác" in stranger.text, command


async def test_ping_goes_to_the_hamlets_mentors_and_one_claim_wins(world: tuple[App, Recorder]) -> None:
    app, recorder = world
    lan = Chat(app, recorder, person="test:lan")
    minh = Chat(app, recorder, person="test:minh")
    far = Chat(app, recorder, person="test:far")
    await become_mentor(app, lan, "Lan – Đoàn thanh niên", "2, 3")
    await become_mentor(app, minh, "Minh", "2")
    await become_mentor(app, far, "Xa", "5")
    mark = len(recorder.sent)
    villager = await stuck_villager(app, recorder)
    pings = {who: inbox(recorder, who, mark) for who in ("test:lan", "test:minh", "test:far")}
    assert len(pings["test:lan"]) == 1 and len(pings["test:minh"]) == 1 and pings["test:far"] == []
    ping = pings["test:lan"][0]
    assert "Xóm 2" in ping.text and "Từ 60 tuổi" in ping.text and "Bài thử nghiệm" in ping.text
    assert "bước 1/3" in ping.text and "[số điện thoại đã ẩn]" in ping.text
    assert "0912" not in ping.text and "test:villager" not in ping.text
    claim = ping.flat_choices()[0].payload
    # Both press at once: exactly one wins.
    results = await asyncio.gather(lan.choose(claim), minh.choose(claim))
    texts = ["\n".join(r.text for r in replies) for replies in results]
    assert sum("Bạn đã nhận yêu cầu" in t for t in texts) == 1
    assert sum("đã có bạn" in t for t in texts) == 1
    case = await case_of(app)
    assert case.status == "claimed" and case.claimed_at is not None
    assert "đã nhận yêu cầu của bác" in inbox(recorder, "test:villager", mark)[-1].text
    assert villager.person == "test:villager"


async def test_relay_both_ways_with_photos_and_no_ids(world: tuple[App, Recorder]) -> None:
    app, recorder = world
    lan = Chat(app, recorder, person="test:lan")
    await become_mentor(app, lan, "Lan", "2")
    villager = await stuck_villager(app, recorder)
    await lan.choose(f"claim:{(await case_of(app)).id}")
    mark = len(recorder.sent)
    await villager.say("Bác bấm rồi mà không được, gọi bác số +84 912 345 678 nhé")
    to_lan = inbox(recorder, "test:lan", mark)[-1].text
    assert "Người dân" in to_lan and "[số điện thoại đã ẩn]" in to_lan and "912" not in to_lan
    assert "test:" not in to_lan
    await villager._send(Inbound(person="test:villager", kind=InboundKind.PHOTO, key="p1", photo=b"\x89PNG-shot"))
    assert inbox(recorder, "test:lan", mark)[-1].image == b"\x89PNG-shot"
    await lan.say("Bác mở Zalo, bấm biểu tượng QR ở trên cùng ạ")
    to_villager = inbox(recorder, "test:villager", mark)[-1].text
    assert to_villager.startswith("💬 Lan (tình nguyện viên)") and "test:" not in to_villager
    await lan._send(Inbound(person="test:lan", kind=InboundKind.PHOTO, key="p2", photo=b"\x89PNG-help"))
    assert inbox(recorder, "test:villager", mark)[-1].image == b"\x89PNG-help"
    # The villager chooses to share their number: only then does it reach the mentor.
    await villager.press("📞 Gửi số điện thoại")
    await villager.say("0912345678")
    assert "0912345678" in inbox(recorder, "test:lan", mark)[-1].text
    await lan.press("💬 Trả lời nhanh")
    await lan.press("Gửi câu 1")
    assert "tắt hẳn ứng dụng" in inbox(recorder, "test:villager", mark)[-1].text
    await lan.press("📘 Gửi bài học")
    await lan.say("1 2")
    sent = inbox(recorder, "test:villager", mark)[-1]
    assert "bước 2" in sent.text
    await villager.choose(sent.flat_choices()[0].payload)
    assert "Bước 2/3" in villager.text


async def test_timers_raise_to_all_mentors_then_officials_once_across_a_restart(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "bot.db"
    app, recorder = await start_app(db)
    near = Chat(app, recorder, person="test:near")
    far = Chat(app, recorder, person="test:far")
    official = Chat(app, recorder, person="test:official")
    await become_mentor(app, near, "Gần", "2")
    await become_mentor(app, far, "Xa", "4")
    await make_official(app, official)
    mark = len(recorder.sent)
    await stuck_villager(app, recorder)
    assert len(inbox(recorder, "test:near", mark)) == 1 and inbox(recorder, "test:far", mark) == []
    async with app.engine._sessions() as session:
        jobs = list(await session.scalars(select(Job).order_by(Job.run_at)))
    assert [j.payload["level"] for j in jobs] == [1, 2]
    assert dt.timedelta(minutes=14) < jobs[0].run_at - jobs[0].created_at <= dt.timedelta(minutes=15)
    await app.close()

    app, recorder = await start_app(db, recorder)  # a restart: the timers are in the database
    now = jobs[0].run_at + dt.timedelta(seconds=1)
    assert await app.engine.run_due_jobs(now) == 1
    assert await app.engine.run_due_jobs(now) == 0  # fired once
    assert len(inbox(recorder, "test:far", mark)) == 1  # every mentor now
    assert inbox(recorder, "test:official", mark) == []
    assert await app.engine.run_due_jobs(jobs[1].run_at + dt.timedelta(seconds=1)) == 1
    to_official = inbox(recorder, "test:official", mark)
    assert len(to_official) == 1 and "Yêu cầu hỗ trợ" in to_official[0].text
    # The official takes it.
    official = Chat(app, recorder, person="test:official")
    await official.choose(to_official[0].flat_choices()[0].payload)
    assert "Bạn đã nhận yêu cầu" in official.text
    await app.close()


async def test_a_claimed_request_does_not_move_up(world: tuple[App, Recorder]) -> None:
    app, recorder = world
    lan = Chat(app, recorder, person="test:lan")
    other = Chat(app, recorder, person="test:other")
    await become_mentor(app, lan, "Lan", "2")
    await become_mentor(app, other, "Khác", "5")
    await stuck_villager(app, recorder)
    await lan.choose(f"claim:{(await case_of(app)).id}")
    mark = len(recorder.sent)
    await app.engine.run_due_jobs(dt.datetime.now(dt.UTC) + dt.timedelta(hours=3))
    assert inbox(recorder, "test:other", mark) == []


async def test_resolve_rate_and_reopen(world: tuple[App, Recorder]) -> None:
    app, recorder = world
    lan = Chat(app, recorder, person="test:lan")
    await become_mentor(app, lan, "Lan", "2")
    villager = await stuck_villager(app, recorder)
    await lan.choose(f"claim:{(await case_of(app)).id}")
    mark = len(recorder.sent)
    await lan.say("/xong")
    assert "Đã đóng yêu cầu" in lan.text
    rating = inbox(recorder, "test:villager", mark)[-1]
    assert [c.label for c in rating.flat_choices()] == ["1⭐", "2⭐", "3⭐", "4⭐", "5⭐", "Vẫn chưa được"]
    villager.last = [rating]
    await villager.press("Vẫn chưa được")
    assert (await case_of(app)).status == "claimed" and (await case_of(app)).reopened == 1
    assert "mở lại" in inbox(recorder, "test:lan", mark)[-1].text
    await lan.say("/xong")
    villager.last = [inbox(recorder, "test:villager", mark)[-1]]
    await villager.say("4")  # typed: the number of stars
    case = await case_of(app)
    assert case.status == "resolved" and case.rating == 4 and case.resolved_at is not None
    await lan.say("/xong")
    assert "không có yêu cầu nào đang giúp" in lan.text


async def test_a_meeting_proposed_confirmed_reminded_and_assisted_steps(world: tuple[App, Recorder]) -> None:
    app, recorder = world
    lan = Chat(app, recorder, person="test:lan")
    await become_mentor(app, lan, "Lan", "2")
    villager = await stuck_villager(app, recorder)
    await lan.choose(f"claim:{(await case_of(app)).id}")
    await lan.press("📅 Hẹn gặp 1-1")
    await lan.say("hôm qua")
    assert "chưa hiểu giờ hẹn" in lan.text
    when = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).astimezone(app.engine._community.timezone)
    await lan.say(f"{when:%d/%m} 8:30")
    await lan.say("Nhà văn hóa Xóm 2")
    mark = len(recorder.sent)
    proposal = inbox(recorder, "test:villager")[-1]
    assert "8 giờ 30 sáng" in proposal.text and "Nhà văn hóa Xóm 2" in proposal.text
    villager.last = [proposal]
    await villager.press("✅ Đồng ý")
    assert "Đã hẹn" in villager.text
    async with app.engine._sessions() as session:
        meeting = (await session.scalars(select(Meeting))).one()
        job = (await session.scalars(select(Job).where(Job.kind == "meet_remind"))).one()
    assert meeting.status == "confirmed"
    local = job.run_at.astimezone(app.engine._community.timezone)
    assert local.hour == 19 and local.date() == when.date() - dt.timedelta(days=1)
    await app.engine.run_due_jobs(job.run_at + dt.timedelta(seconds=1))
    assert "Nhắc bác" in inbox(recorder, "test:villager", mark)[-1].text
    assert "Nhắc bạn" in inbox(recorder, "test:lan", mark)[-1].text
    lan.last = [inbox(recorder, "test:lan", mark)[-2]]
    await lan.press("📝 Ghi nhận buổi gặp")
    await lan.say("Hướng dẫn quét mã QR bằng Zalo")
    await lan.say("1")
    assert "Bài học có hỗ trợ: «Bài thử nghiệm»" in lan.text
    async with app.engine._sessions() as session:
        progress = (await session.scalars(select(LessonProgress).where(LessonProgress.lesson_id == "bai-thu"))).one()
        assisted = list(await session.scalars(select(ProgressEvent).where(ProgressEvent.kind == "step_assisted")))
    assert progress.assisted and progress.completed_at is not None and len(assisted) == 3


async def test_asking_for_another_time(world: tuple[App, Recorder]) -> None:
    app, recorder = world
    lan = Chat(app, recorder, person="test:lan")
    await become_mentor(app, lan, "Lan", "2")
    villager = await stuck_villager(app, recorder)
    await lan.choose(f"claim:{(await case_of(app)).id}")
    await lan.press("📅 Hẹn gặp 1-1")
    when = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    await lan.say(f"{when.astimezone(app.engine._community.timezone):%d/%m} 15:00")
    await lan.say("Nhà văn hóa")
    villager.last = [inbox(recorder, "test:villager")[-1]]
    await villager.press("🕒 Hẹn giờ khác")
    mark = len(recorder.sent)
    await villager.say("Chiều thứ Bảy bác rảnh")
    assert "Chiều thứ Bảy bác rảnh" in inbox(recorder, "test:lan", mark)[-1].text


async def test_pause_and_resume(world: tuple[App, Recorder]) -> None:
    app, recorder = world
    lan = Chat(app, recorder, person="test:lan")
    await become_mentor(app, lan, "Lan", "tất cả")
    await lan.say("/nghi")
    mark = len(recorder.sent)
    await stuck_villager(app, recorder, expect="chưa có ai trực")
    assert inbox(recorder, "test:lan", mark) == []
    await lan.say("/sansang")
    await lan.say("/ca")
    assert "#1" in lan.text and "đang chờ" in lan.text


async def test_invite_codes_cannot_be_guessed(world: tuple[App, Recorder]) -> None:
    app, recorder = world
    guesser = Chat(app, recorder, person="test:guesser")
    await guesser.onboard()
    for attempt in range(5):
        await guesser.say(f"/tnv AAAAA-BBBB{attempt}")
        assert "không dùng được" in guesser.text
    await guesser.say(f"/tnv {await invite_code(app)}")  # even a right code waits now
    assert "sai mã nhiều lần" in guesser.text


async def test_retention_blanks_closed_requests_and_deletion_takes_screenshots(world: tuple[App, Recorder]) -> None:
    from storage.models import MediaFile

    app, recorder = world
    lan = Chat(app, recorder, person="test:lan")
    await become_mentor(app, lan, "Lan", "2")
    await stuck_villager(app, recorder)
    await lan.choose(f"claim:{(await case_of(app)).id}")
    await lan.say("/xong")
    async with app.engine._sessions() as session, session.begin():
        case = (await session.scalars(select(Escalation))).one()
        case.resolved_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    await app.engine.forget_old_keys()
    case = await case_of(app)
    assert case.question == "" and case.context == {} and case.claimed_at is not None  # stats survive

    other = Chat(app, recorder, person="test:other")
    await other.onboard(hamlet="Xóm 2")
    await other.press("🙋 Hỏi người hỗ trợ")
    await other.press("✅ Đồng ý")
    await other._send(Inbound(person="test:other", kind=InboundKind.PHOTO, key="shot", photo=b"\xff\xd8shot"))
    async with app.engine._sessions() as session:
        assert len(list(await session.scalars(select(MediaFile)))) == 1
    await other.say("/xoadulieu")
    await other.press("🗑 Xóa hết dữ liệu")
    async with app.engine._sessions() as session:
        assert list(await session.scalars(select(MediaFile))) == []
        assert len(list(await session.scalars(select(Escalation)))) == 1  # only the first person's
