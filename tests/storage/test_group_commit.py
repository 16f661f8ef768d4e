"""Group commit: work queued at the same moment shares one transaction; a failing piece costs only itself."""

from __future__ import annotations

import asyncio
import pathlib

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import create_engine, read_session, session_factory
from storage.group_commit import GroupCommit

pytestmark = pytest.mark.sqlite_only


async def _setup(tmp_path: pathlib.Path) -> tuple[object, object, list[str]]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'group.db'}")
    async with engine.begin() as connection:
        await connection.exec_driver_sql("CREATE TABLE t (n INTEGER UNIQUE)")
    commits: list[str] = []
    event.listen(engine.sync_engine, "commit", lambda _connection: commits.append("commit"))
    return engine, session_factory(engine), commits


def _insert(n: int):  # type: ignore[no-untyped-def]
    async def work(session: AsyncSession) -> int:
        await session.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
        return n * 10

    return work


async def _numbers(sessions) -> list[int]:  # type: ignore[no-untyped-def]
    async with read_session(sessions) as session:
        return list(await session.scalars(text("SELECT n FROM t ORDER BY n")))


async def test_work_queued_together_commits_once_and_each_gets_its_result(tmp_path: pathlib.Path) -> None:
    engine, sessions, commits = await _setup(tmp_path)
    group = GroupCommit(sessions)  # type: ignore[arg-type]
    results = await asyncio.gather(*(group.run(_insert(n)) for n in range(1, 51)))
    assert results == [n * 10 for n in range(1, 51)]
    assert await _numbers(sessions) == list(range(1, 51))
    assert len(commits) == 1
    await engine.dispose()  # type: ignore[attr-defined]


async def test_a_result_comes_only_once_it_is_committed(tmp_path: pathlib.Path) -> None:
    engine, sessions, _commits = await _setup(tmp_path)
    group = GroupCommit(sessions)  # type: ignore[arg-type]
    seen: list[list[int]] = []

    async def first_then_look(n: int) -> None:
        await group.run(_insert(n))
        seen.append(await _numbers(sessions))  # another connection: only committed rows

    await asyncio.gather(*(first_then_look(n) for n in (1, 2, 3)))
    assert seen == [[1, 2, 3]] * 3
    await engine.dispose()  # type: ignore[attr-defined]


async def test_a_failing_piece_costs_only_itself(tmp_path: pathlib.Path) -> None:
    engine, sessions, commits = await _setup(tmp_path)
    group = GroupCommit(sessions)  # type: ignore[arg-type]

    async def half_then_fail(session: AsyncSession) -> int:
        await session.execute(text("INSERT INTO t VALUES (100)"))
        raise ValueError("a handler bug")

    outcomes = await asyncio.gather(group.run(_insert(1)), group.run(half_then_fail), group.run(_insert(2)),
                                    group.run(_insert(1)), return_exceptions=True)  # the last: a unique violation
    assert outcomes[0] == 10 and outcomes[2] == 20
    assert isinstance(outcomes[1], ValueError)
    assert type(outcomes[3]).__name__ == "IntegrityError"
    assert await _numbers(sessions) == [1, 2]  # nothing of the failing pieces, everything of the others
    assert len(commits) == 2  # the group was rolled back; the two good pieces committed alone
    await engine.dispose()  # type: ignore[attr-defined]


async def test_a_caller_that_stops_waiting_does_not_stop_the_group(tmp_path: pathlib.Path) -> None:
    engine, sessions, _commits = await _setup(tmp_path)
    group = GroupCommit(sessions)  # type: ignore[arg-type]
    waiting = asyncio.create_task(group.run(_insert(5)))
    others = asyncio.gather(group.run(_insert(6)))
    await asyncio.sleep(0)
    waiting.cancel()
    await others
    await group.idle()
    assert await _numbers(sessions) == [5, 6]
    await engine.dispose()  # type: ignore[attr-defined]
