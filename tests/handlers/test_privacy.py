"""Seeing and deleting one's data (Law 91/2025, Decree 356/2025)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib

from pydantic import SecretStr
from sqlalchemy import func, select

from bot.app import App
from storage.contests import ContestsRepo
from storage.escalations import EscalationsRepo
from storage.meetings import MeetingsRepo
from storage.models import (
    AnonymousCount,
    ConsentRecord,
    DataRequest,
    LessonProgress,
    OutboxMessage,
    Person,
    ProgressEvent,
)
from storage.people import PeopleRepo
from storage.privacy import ref_hash
from storage.stats import StatsRepo
from storage.trainings import TrainingsRepo
from tests.harness import Chat, Recorder, settings_for


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
    assert request.kind == "delete" and request.ref_hash == ref_hash("test:1", app[0].engine.community.privacy_salt)
    assert request.done_at is not None
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
    assert "học bài – đồng ý (bản v2)" in chat.text


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


async def finish_a_lesson(chat: Chat) -> None:
    await chat.press("📚 Học bài")
    await chat.press("Bài thử")
    await chat.press("Bài 1")
    await chat.press("▶ Tiếp tục")
    await chat.say("50000")
    await chat.press("Chưa làm được")
    await chat.press("▶ Tiếp tục")
    for answer in ("Không", "2", "Có"):
        await chat.say(answer)
    assert "hoàn thành bài" in chat.text


async def test_deleting_keeps_the_communes_counts_and_nothing_that_names_them(chat: Chat,
                                                                               app: tuple[App, Recorder]) -> None:
    await chat.onboard(hamlet="Xóm 2", age="Từ 60 tuổi")
    await finish_a_lesson(chat)
    commune_id, tracks = app[0].engine.community.commune_id, {"thu": ["bai-thu"]}

    async def counts() -> tuple[int, int, int, int]:
        async with app[0].engine._sessions() as session:
            view = await StatsRepo(session).overview(commune_id, tracks, now=dt.datetime.now(dt.UTC))
            month = await StatsRepo(session).month(commune_id, view.as_of.year, view.as_of.month, tracks, [])
        return view.registered, view.elders, view.lessons_completed, month.this_month.lessons_completed

    before = await counts()
    assert before == (1, 1, 1, 1)
    await chat.say("/xoadulieu")
    await chat.press("🗑 Xóa hết dữ liệu")
    assert await counts() == before
    async with app[0].engine._sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Person)) == 0
        rows = list(await session.scalars(select(AnonymousCount)))
        logged = (await session.scalars(select(DataRequest))).one()
    assert rows and all("test" not in f"{r.figure}{r.key}{r.age_group}" for r in rows)
    assert logged.ref_hash != hashlib.sha256(b"test:1").hexdigest()


async def test_the_request_log_uses_the_deployments_salt(chat: Chat, app: tuple[App, Recorder]) -> None:
    engine = app[0].engine
    engine._community = dataclasses.replace(engine.community, privacy_salt=b"a secret of this commune")
    await chat.say("/start")
    await chat.press("Không đồng ý")
    await chat.say("/dulieucuatoi")
    await chat.say("/dulieucuatoi")
    listed = chat.last[-1].text
    assert "Sổ ghi yêu cầu" in listed and listed.count("xem dữ liệu") == 2  # matched, not reversed
    await chat.say("/xoadulieu")
    async with engine._sessions() as session:
        hashes = {r.ref_hash for r in await session.scalars(select(DataRequest))}
    assert hashes == {ref_hash("test:1", b"a secret of this commune")}


def test_the_salt_comes_from_settings_or_a_secret_of_the_deployment(tmp_path: object) -> None:
    import pathlib

    assert isinstance(tmp_path, pathlib.Path)
    db = tmp_path / "x.db"
    assert settings_for(db, privacy_salt=SecretStr("s3cret")).privacy_key() == b"s3cret"
    from_token = settings_for(db, telegram_token=SecretStr("123:ABC")).privacy_key()
    assert from_token not in (b"123:ABC", settings_for(db, telegram_token=SecretStr("123:XYZ")).privacy_key())
    assert settings_for(db, telegram_token=SecretStr("123:ABC"), privacy_salt=SecretStr("s")).privacy_key() == b"s"
    assert settings_for(db).privacy_key() == b"hocvuso web chat"  # web chat only: accounts are random ids
    retention = settings_for(db, privacy_log_days=30, declined_days=7).privacy_retention()
    assert (retention.requests, retention.declined) == (dt.timedelta(days=30), dt.timedelta(days=7))


async def test_my_data_lists_everything_stored(chat: Chat, app: tuple[App, Recorder]) -> None:
    await chat.onboard(hamlet="Xóm 3", age="Từ 60 tuổi")
    await finish_a_lesson(chat)
    await chat.press("🏠 Về menu")
    await chat.press("🙋 Hỏi người hỗ trợ")
    await chat.press("✅ Đồng ý")
    await chat.say("Cháu ơi bác không mở được Zalo")
    now = dt.datetime.now(dt.UTC)
    async with app[0].engine._sessions() as session, session.begin():
        person = await PeopleRepo(session).by_ref("test:1")
        assert person is not None
        case = await EscalationsRepo(session).active_for(person.id)
        assert case is not None
        await MeetingsRepo(session).propose(case.id, person.id, person.id, now + dt.timedelta(days=2),
                                            "Nhà văn hóa Xóm 3")
        training = await TrainingsRepo(session).create(commune_id=person.commune_id, hamlet_id=None,
                                                       title="Tập huấn VNeID", place="Hội trường xã",
                                                       at=now + dt.timedelta(days=5), created_by=person.id)
        await TrainingsRepo(session).register(training.id, person.id)
        contest = await ContestsRepo(session).open(commune_id=person.commune_id, title="Thi tháng 11",
                                                   questions=[], starts_at=now, ends_at=now + dt.timedelta(days=1),
                                                   created_by=person.id)
        entry = await ContestsRepo(session).enter(contest.id, person.id, now)
        entry.score, entry.answered, entry.seconds = 4, 5, 95
    await chat.say("/dulieucuatoi")
    text = chat.text
    for expected in ("📄 Dữ liệu", "Xóm: Xóm 3", "Nhóm tuổi: Từ 60 tuổi", "Bài đã xong: Bài thử nghiệm",
                     "điểm 3, 1 lần làm bài kiểm tra", "Lời đồng ý", "hỏi tình nguyện viên – đồng ý",
                     f"Yêu cầu số {case.id}", "«Cháu ơi bác không mở được Zalo»", "đang chờ người nhận",
                     "Lịch hẹn 1-1:", "tại Nhà văn hóa Xóm 3 (chờ trả lời)",
                     "Đăng ký tập huấn «Tập huấn VNeID»", "tại Hội trường xã",
                     "Bài thi «Thi tháng 11»", "đúng 4/5 câu, 95 giây",
                     "Sổ ghi yêu cầu về dữ liệu", "xem dữ liệu", "Nhật ký học:", "/xoadulieu"):
        assert expected in text, text
