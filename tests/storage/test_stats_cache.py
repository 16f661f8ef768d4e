"""The overview kept for /thongke (`StatsRepo.overview(..., max_age=…)`, storage.stats_cache): served again only
while nothing it reads was written, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import migrate, stats_cache
from storage.db import create_engine, session_factory
from storage.models import Hamlet, LessonProgress, Person, ProgressEvent
from storage.models_help import Escalation
from storage.progress import ProgressRepo
from storage.stats import Overview, StatsRepo
from tests.storage.seed import H1, H2, NOW, TRACKS, ZONE, Seeded, seed_commune, vn

Sessions = async_sessionmaker[AsyncSession]
MINUTE = 60.0


@pytest.fixture
async def seeded(db_url: str) -> AsyncIterator[tuple[Sessions, Seeded]]:
    engine = create_engine(db_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    place = await seed_commune(sessions)
    stats_cache.OVERVIEWS.invalidate()  # the seeding committed writes anyway; start from nothing kept
    yield sessions, place
    await engine.dispose()


async def overview(sessions: Sessions, place: Seeded, *, max_age: float = MINUTE, now: dt.datetime = NOW,
                   hamlet: int | None = None) -> Overview:
    async with sessions() as session:
        return await StatsRepo(session).overview(place.commune_id, TRACKS, hamlet_id=hamlet, now=now, zone=ZONE,
                                                 max_age=max_age)


async def test_the_same_overview_is_served_while_nothing_changed(seeded: tuple[Sessions, Seeded]) -> None:
    sessions, place = seeded
    first = await overview(sessions, place)
    later = NOW + dt.timedelta(minutes=5)  # the caller's clock moved on; same local day
    again = await overview(sessions, place, now=later)
    assert again is first and again.as_of == NOW  # as_of: when the figures were computed
    fresh = await overview(sessions, place, now=later, max_age=0)  # max_age 0: always computed
    assert fresh is not first and fresh.as_of == later
    assert dataclasses.replace(fresh, as_of=NOW) == first
    # Another hamlet, other tracks, or another local day are other overviews.
    assert (await overview(sessions, place, hamlet=place.hamlets[H1])).hamlet_id == place.hamlets[H1]
    tomorrow = await overview(sessions, place, now=NOW + dt.timedelta(days=1))
    assert tomorrow.as_of == NOW + dt.timedelta(days=1) and tomorrow.active_7d != first.active_7d
    async with sessions() as session:
        other = await StatsRepo(session).overview(place.commune_id, {"zalo": TRACKS["zalo"]}, now=NOW, zone=ZONE,
                                                  max_age=MINUTE)
    assert list(other.track_finishers) == ["zalo"]


async def test_a_kept_overview_expires(seeded: tuple[Sessions, Seeded], monkeypatch: pytest.MonkeyPatch) -> None:
    sessions, place = seeded
    clock = [1000.0]
    monkeypatch.setattr(stats_cache.time, "monotonic", lambda: clock[0])
    first = await overview(sessions, place)
    clock[0] += MINUTE - 1
    assert await overview(sessions, place) is first
    clock[0] += 2
    assert await overview(sessions, place) is not first
    assert await overview(sessions, place, now=NOW - dt.timedelta(minutes=1)) is not first  # asked for the past


async def test_writes_that_change_the_figures_drop_it(seeded: tuple[Sessions, Seeded]) -> None:
    sessions, place = seeded
    before = await overview(sessions, place)

    async def changed() -> Overview:
        view = await overview(sessions, place)
        assert view is not before
        return view

    # A lesson completed (the engine's own write path), then a milestone answered.
    async with sessions() as session, session.begin():
        await ProgressRepo(session).quiz_result(9, "zalo-a", 3, passed=True)
    after = await changed()
    assert after.lessons_completed == before.lessons_completed + 1
    async with sessions() as session, session.begin():
        await ProgressRepo(session).event(9, "milestone", step_id="paid_bill", value=1, at=NOW)
    before = await changed()
    assert before.milestones["paid_bill"].people == 2
    async with sessions() as session, session.begin():  # and taken back (a row deleted through the ORM)
        answer = (await session.scalars(select(ProgressEvent).where(ProgressEvent.person_id == 9,
                                                                    ProgressEvent.kind == "milestone"))).one()
        await session.delete(answer)
    before = await changed()
    assert before.milestones["paid_bill"].people == 1
    # Someone's lessons are erased by a DELETE statement.
    async with sessions() as session, session.begin():
        await session.execute(delete(LessonProgress).where(LessonProgress.person_id == 18))
    before = await changed()
    # Someone moves hamlet.
    async with sessions() as session, session.begin():
        (await session.get_one(Person, 9)).hamlet_id = place.hamlets[H1]
    before = await changed()
    # A help request is claimed by an UPDATE statement.
    async with sessions() as session, session.begin():
        await session.execute(update(Escalation).where(Escalation.status == "open").values(status="claimed"))
    before = await changed()
    assert before.escalations.open == 0
    # A hamlet is renamed.
    async with sessions() as session, session.begin():
        (await session.scalars(select(Hamlet).where(Hamlet.id == place.hamlets[H2]))).one().name = "Xóm Mới"
    before = await changed()
    assert "Xóm Mới" in [row.name for row in before.by_hamlet]
    # Someone registers.
    async with sessions() as session, session.begin():
        session.add(Person(id=99, ref="telegram:99", commune_id=place.commune_id, age_group="60+", created_at=NOW,
                           last_seen_at=NOW))
    assert (await changed()).registered == before.registered + 1


async def test_writes_that_cannot_change_them_keep_it(seeded: tuple[Sessions, Seeded]) -> None:
    sessions, place = seeded
    before = await overview(sessions, place)
    async with sessions() as session, session.begin():
        (await session.get_one(Person, 9)).last_seen_at = NOW  # a visit
        (await session.get_one(Person, 9)).state = {"flow": "lesson"}
        progress = ProgressRepo(session)
        await progress.at_step(9, "zalo-b", "s1")  # a lesson started, a step taken
        await progress.at_step(4, "zalo-a", "gui")
        await progress.event(9, "step_reached", lesson_id="zalo-b", step_id="s2")
    async with sessions() as session, session.begin():  # written, then rolled back
        await ProgressRepo(session).quiz_result(9, "zalo-a", 3, passed=True)
        await session.flush()
        await session.rollback()
    assert await overview(sessions, place) is before


async def test_a_transaction_reads_its_own_writes(seeded: tuple[Sessions, Seeded]) -> None:
    sessions, place = seeded
    before = await overview(sessions, place)
    async with sessions() as session, session.begin():
        session.add(ProgressEvent(person_id=9, kind="milestone", step_id="sold_online", value=1, at=NOW))
        row = (await session.scalars(select(LessonProgress).where(LessonProgress.person_id == 4))).one()
        row.completed_at = vn(11, 19)
        view = await StatsRepo(session).overview(place.commune_id, TRACKS, now=NOW, zone=ZONE, max_age=MINUTE)
        assert view.lessons_completed == before.lessons_completed + 1
        assert view.milestones["sold_online"].people == 2
        await session.rollback()
    assert await overview(sessions, place) is before  # rolled back: what was kept still holds
