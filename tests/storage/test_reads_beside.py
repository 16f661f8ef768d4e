"""Reads on connections of their own at the same time (storage.db.readers_beside, reads_beside): what they see,
the write queue, errors, and reports that come out the same as when read one statement after another."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.db import read_together, readers_beside, reads_beside, write_transaction
from storage.models import Person
from storage.people import PeopleRepo
from storage.places import PlacesRepo
from storage.stats import StatsRepo
from tests.storage.seed import LESSONS, NOW, TITLES, TRACKS, ZONE, seed_commune

Sessions = async_sessionmaker[AsyncSession]


async def _people(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Person)) or 0)


async def _add_person(sessions: Sessions, ref: str) -> None:
    async with write_transaction(sessions) as session:
        await _create(session, ref)


async def _create(session: AsyncSession, ref: str) -> None:
    commune = await PlacesRepo(session).ensure_commune("Xã Bạch Ngọc", ["Xóm 1"])
    await PeopleRepo(session).create(ref, commune.id)


async def test_the_reads_run_at_the_same_time(sessions: Sessions) -> None:
    """Each read waits until the other has read: one after another, they would never finish."""
    first_read, second_read = asyncio.Event(), asyncio.Event()

    async def read(session: AsyncSession, mine: asyncio.Event, theirs: asyncio.Event) -> int:
        found = await _people(session)
        mine.set()
        await theirs.wait()
        return found

    async with sessions() as session:
        results = await asyncio.wait_for(read_together(
            session, lambda s: read(s, first_read, second_read), lambda s: read(s, second_read, first_read)), 30)
    assert results == [0, 0]


@pytest.mark.sqlite_only
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_on_sqlite_the_readers_see_what_was_committed_when_they_opened(sessions: Sessions) -> None:
    await _add_person(sessions, "web:before")
    async with sessions() as session, readers_beside(session, 2) as readers:
        await _add_person(sessions, "web:after")  # committed after they opened: not seen by any of them
        assert [await _people(reader) for reader in readers] == [1, 1]
    async with sessions() as session:
        assert await _people(session) == 2


@pytest.mark.sqlite_only
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_on_sqlite_readers_open_after_a_writer_of_this_process_has_committed(sessions: Sessions) -> None:
    writing, finish = asyncio.Event(), asyncio.Event()

    async def writer() -> None:
        async with write_transaction(sessions) as session:
            await _create(session, "web:writer")
            writing.set()
            await finish.wait()

    task = asyncio.create_task(writer())
    await writing.wait()
    opened = asyncio.Event()

    async def read() -> list[int]:
        async with sessions() as session, readers_beside(session, 2) as readers:
            opened.set()
            return [await _people(reader) for reader in readers]

    reading = asyncio.create_task(read())
    for _ in range(20):
        await asyncio.sleep(0)
    assert not opened.is_set()  # they wait for the write queue, so that no commit falls between their snapshots
    finish.set()
    await task
    assert await asyncio.wait_for(reading, 30) == [1, 1]


async def test_readers_open_inside_a_write_transaction_without_its_writes(sessions: Sessions) -> None:
    async with write_transaction(sessions) as session:
        await _create(session, "web:uncommitted")
        async with asyncio.timeout(30), readers_beside(session, 2) as readers:  # this task holds the write queue
            assert [await _people(reader) for reader in readers] == [0, 0]
        assert await _people(session) == 1


async def test_a_failing_read_is_raised_as_it_is_and_the_others_are_cancelled(sessions: Sessions) -> None:
    cancelled = asyncio.Event()

    async def fails(session: AsyncSession) -> None:
        await _people(session)
        raise ValueError("this read failed")

    async def waits(session: AsyncSession) -> None:
        await _people(session)
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    async with sessions() as session:
        with pytest.raises(ValueError, match="this read failed"):
            await asyncio.wait_for(read_together(session, waits, fails), 30)
        assert cancelled.is_set()
        assert await _people(session) == 0  # the session itself is unharmed


async def test_a_failing_body_cancels_the_reads(sessions: Sessions) -> None:
    cancelled = asyncio.Event()

    async def waits(session: AsyncSession) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    async with sessions() as session:
        with pytest.raises(KeyError):
            async with reads_beside(session, waits):
                await asyncio.sleep(0)
                raise KeyError("the body failed")
    assert cancelled.is_set()


async def test_a_session_on_a_connection_reads_alone_one_after_another(sessions: Sessions) -> None:
    order: list[str] = []

    async def read(session: AsyncSession, name: str) -> AsyncSession:
        order.append(name)
        await _people(session)
        return session

    engine = sessions.kw["bind"]
    async with engine.connect() as connection, AsyncSession(bind=connection) as session:
        results = await read_together(session, lambda s: read(s, "a"), lambda s: read(s, "b"))
    assert order == ["a", "b"]
    assert results == [session, session]


async def test_reports_read_beside_equal_reports_read_alone(sessions: Sessions) -> None:
    seeded = await seed_commune(sessions)
    engine = sessions.kw["bind"]
    async with sessions() as session:
        report = await StatsRepo(session).month(seeded.commune_id, 2026, 11, TRACKS, LESSONS, zone=ZONE,
                                                track_titles=TITLES)
        view = await StatsRepo(session).overview(seeded.commune_id, TRACKS, now=NOW, zone=ZONE)
    async with engine.connect() as connection, AsyncSession(bind=connection) as alone:
        assert await StatsRepo(alone).month(seeded.commune_id, 2026, 11, TRACKS, LESSONS, zone=ZONE,
                                            track_titles=TITLES) == report
        assert await StatsRepo(alone).overview(seeded.commune_id, TRACKS, now=NOW, zone=ZONE) == view
    assert report.this_month.lessons_completed > 0 and view.registered > 0
