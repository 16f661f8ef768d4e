"""The learner totals the triggers of migration 0009 keep on `people` (`Person.lessons_done` …, read by
`StatsRepo.overview`): they follow every way progress is written, changed and deleted, on SQLite and PostgreSQL, and
a database migrated with rows already in it gets them too."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from storage import migrate
from storage.db import create_engine, session_factory
from storage.models import Commune, Hamlet, LessonProgress, Person, ProgressEvent
from storage.people import PeopleRepo
from storage.progress import ProgressRepo
from storage.stats_sql import listed
from tests.storage.seed import NOW, TRACKS, ZONE

Sessions = async_sessionmaker[AsyncSession]
Totals = tuple[int, int, list[str], list[str]]


async def _person(sessions: Sessions, ref: str = "web:a") -> int:
    async with sessions() as session, session.begin():
        commune = Commune(name=f"xã Thử {ref}")
        session.add(commune)
        await session.flush()
        hamlet = Hamlet(commune_id=commune.id, name="Xóm 1", position=0)
        session.add(hamlet)
        await session.flush()
        person = Person(ref=ref, commune_id=commune.id, hamlet_id=hamlet.id, age_group="60+")
        session.add(person)
        await session.flush()
        return person.id


async def _totals(session: AsyncSession, person_id: int) -> Totals:
    done, assisted, lessons, milestones = (await session.execute(text(
        "SELECT lessons_done, lessons_assisted, lesson_ids, milestone_ids FROM people WHERE id = :id"),
        {"id": person_id})).one()
    return int(done), int(assisted), sorted(listed(lessons)), sorted(listed(milestones))


async def test_totals_follow_lessons_completed_and_milestones_answered(sessions: Sessions) -> None:
    pid = await _person(sessions)
    async with sessions() as session, session.begin():
        progress = ProgressRepo(session)
        await progress.start(pid, "zalo-a", "s1")
        await progress.at_step(pid, "zalo-a", "s2")
        await progress.quiz_result(pid, "zalo-a", 1, passed=False)
        await session.flush()
        assert await _totals(session, pid) == (0, 0, [], [])  # started, stepped, failed: nothing to count
        await progress.quiz_result(pid, "zalo-a", 3, passed=True)
        await progress.quiz_result(pid, "zalo-a", 3, passed=True)  # again: still one lesson
        await progress.assisted(pid, "dvc-a", ["b1", "b2"], mentor_id=pid)
        await progress.event(pid, "milestone", lesson_id="dvc-a", step_id="paid_bill", value=0)
        await progress.event(pid, "milestone", lesson_id="dvc-a", step_id="vneid_level2", value=1)
        await progress.event(pid, "milestone", lesson_id="dvc-a", step_id="vneid_level2", value=1)
        await session.flush()
        assert await _totals(session, pid) == (2, 1, ["dvc-a", "zalo-a"], ["vneid_level2"])
    async with sessions() as session, session.begin():  # committed, read in another transaction
        assert await _totals(session, pid) == (2, 1, ["dvc-a", "zalo-a"], ["vneid_level2"])
        await ProgressRepo(session).event(pid, "milestone", step_id="paid_bill", value=1)
        await session.flush()
        assert (await _totals(session, pid))[3] == ["paid_bill", "vneid_level2"]


async def test_totals_follow_changes_and_deletions(sessions: Sessions) -> None:
    pid = await _person(sessions)
    other = await _person(sessions, "web:b")
    async with sessions() as session, session.begin():
        await session.execute(insert(LessonProgress), [  # a bulk insert, as the generator does
            {"person_id": pid, "lesson_id": lesson, "step_id": "s1", "started_at": NOW, "completed_at": NOW,
             "assisted": lesson == "zalo-b"} for lesson in ("zalo-a", "zalo-b", "dvc-a")])
        await session.execute(insert(ProgressEvent), [
            {"person_id": pid, "kind": "milestone", "step_id": m, "value": 1, "at": NOW}
            for m in ("vneid_level2", "vneid_level2", "sold_online")])
        assert await _totals(session, pid) == (3, 1, ["dvc-a", "zalo-a", "zalo-b"], ["sold_online", "vneid_level2"])
        await session.execute(update(LessonProgress).where(LessonProgress.lesson_id == "zalo-a")
                              .values(completed_at=None))  # un-completed
        await session.execute(update(LessonProgress).where(LessonProgress.lesson_id == "zalo-b")
                              .values(assisted=False))
        await session.execute(update(LessonProgress).where(LessonProgress.lesson_id == "dvc-a")
                              .values(person_id=other))  # moved to someone else
        await session.execute(update(LessonProgress).where(LessonProgress.lesson_id == "zalo-a")
                              .values(step_id="s9", attempts=4))  # neither completion nor help
        assert await _totals(session, pid) == (1, 0, ["zalo-b"], ["sold_online", "vneid_level2"])
        assert await _totals(session, other) == (1, 0, ["dvc-a"], [])
        # one of two "yes" to a milestone deleted: still reached; the only one: no longer
        first = (await session.execute(text("SELECT min(id) FROM progress_events WHERE step_id = 'vneid_level2'")
                                       )).scalar_one()
        await session.execute(delete(ProgressEvent).where(ProgressEvent.id == first))
        await session.execute(delete(ProgressEvent).where(ProgressEvent.step_id == "sold_online"))
        assert (await _totals(session, pid))[3] == ["vneid_level2"]
        await session.execute(update(ProgressEvent).where(ProgressEvent.person_id == pid).values(value=0))
        await session.execute(delete(LessonProgress).where(LessonProgress.person_id == other))
        assert await _totals(session, pid) == (1, 0, ["zalo-b"], [])
        assert await _totals(session, other) == (0, 0, [], [])


async def test_erasing_a_learner_with_totals(sessions: Sessions) -> None:
    pid = await _person(sessions)
    async with sessions() as session, session.begin():
        await ProgressRepo(session).quiz_result(pid, "zalo-a", 3, passed=True)
        await ProgressRepo(session).event(pid, "milestone", step_id="paid_bill", value=1)
    async with sessions() as session, session.begin():
        await PeopleRepo(session).erase("web:a", tracks=TRACKS, zone=ZONE)
    async with sessions() as session:
        assert (await session.execute(text("SELECT count(*) FROM people WHERE id = :id"), {"id": pid})).scalar() == 0


async def test_a_database_with_progress_gets_its_totals_when_migrated(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        await migrate.upgrade(engine, "0008")
        async with engine.begin() as connection:  # rows written before the triggers existed (not through the ORM:
            run = connection.execute              # its Person has the new columns)
            await run(text("INSERT INTO communes (id, name) VALUES (1, 'xã Cũ')"))
            await run(text("INSERT INTO people (id, ref, commune_id, guardian_confirmed, is_mentor, is_official, "
                           "mentor_paused, announcements_off, state, created_at, last_seen_at) VALUES (:id, :ref, 1, "
                           ":no, :no, :no, :no, :no, '{}', :at, :at)"),
                      [{"id": i, "ref": f"web:{i}", "no": False, "at": NOW} for i in (1, 2, 3)])
            await run(text("INSERT INTO lesson_progress (person_id, lesson_id, step_id, started_at, completed_at, "
                           "assisted, attempts, best_score) VALUES (:p, :lesson, 's1', :at, :done, :helped, 1, 3)"),
                      [{"p": p, "lesson": lesson, "at": NOW, "done": NOW if done else None, "helped": helped}
                       for p, lesson, done, helped in [(1, "zalo-a", True, False), (1, "zalo-b", True, True),
                                                       (1, "dvc-a", False, False), (2, "dvc-a", False, False)]])
            await run(text("INSERT INTO progress_events (person_id, kind, step_id, value, at) "
                           "VALUES (:p, :kind, :step, :value, :at)"),
                      [{"p": p, "kind": kind, "step": step, "value": value, "at": NOW}
                       for p, kind, step, value in [
                           (1, "milestone", "paid_bill", 1), (1, "milestone", "paid_bill", 1),
                           (1, "milestone", "sold_online", 1), (2, "milestone", "paid_bill", 0),
                           (3, "milestone", "vneid_level2", 1), (3, "step_reached", "s1", 1)]])
        await migrate.upgrade(engine)
        async with session_factory(engine)() as session:
            assert await _totals(session, 1) == (2, 1, ["zalo-a", "zalo-b"], ["paid_bill", "sold_online"])
            assert await _totals(session, 2) == (0, 0, [], [])
            assert await _totals(session, 3) == (0, 0, [], ["vneid_level2"])
    finally:
        await engine.dispose()


async def test_downgrading_keeps_the_rows_and_upgrading_again_counts_them(sessions: Sessions, db_url: str) -> None:
    from alembic import command

    pid = await _person(sessions)
    async with sessions() as session, session.begin():
        await ProgressRepo(session).quiz_result(pid, "zalo-a", 3, passed=True)
        await ProgressRepo(session).event(pid, "milestone", step_id="paid_bill", value=1)
    tables = ("people", "lesson_progress", "progress_events")

    async def counts(connection: AsyncConnection) -> list[int]:
        return [int((await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())
                for table in tables]

    def downgrade(connection: Connection) -> None:
        config = migrate.alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0008")

    engine = create_engine(db_url)
    try:
        async with engine.connect() as connection:
            before = await counts(connection)
        async with engine.begin() as connection:
            await connection.run_sync(downgrade)
        async with engine.connect() as connection:  # SQLite: no table copied and dropped (its cascades would delete)
            assert await counts(connection) == before
        await migrate.upgrade(engine)
        async with session_factory(engine)() as session:
            assert await _totals(session, pid) == (1, 0, ["zalo-a"], ["paid_bill"])
    finally:
        await engine.dispose()
