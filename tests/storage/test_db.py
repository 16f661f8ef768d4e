"""Migrations, pragmas, dedupe and erasure on real SQLite files and on PostgreSQL."""

from __future__ import annotations

import contextlib
import pathlib
import sqlite3

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection

from bot.cli import main
from storage import migrate
from storage.db import create_engine, session_factory
from storage.messaging import InboxRepo
from storage.models import Base, Person
from storage.people import PeopleRepo
from storage.places import PlacesRepo
from storage.privacy import ConsentRepo
from storage.progress import ProgressRepo


async def test_migrations_match_the_models(db_url: str) -> None:
    engine = create_engine(db_url)
    await migrate.upgrade(engine)
    await migrate.upgrade(engine)  # a second run is a no-op

    def diff(connection: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))

    async with engine.connect() as connection:
        assert await connection.run_sync(diff) == []
    await engine.dispose()


async def test_inbox_dedupes_and_places_people_progress_roundtrip(db_url: str) -> None:
    engine = create_engine(db_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        assert await InboxRepo(session).claim("telegram:1:update:5")
        assert not await InboxRepo(session).claim("telegram:1:update:5")
        commune = await PlacesRepo(session).ensure_commune("xã Bạch Ngọc", ["Xóm 1", "Xóm 2"])
        person = await PeopleRepo(session).create("telegram:1", commune.id)
        person.state = {"lesson": "zalo-quet-qr", "quiz": {"q": 1}}
        await ProgressRepo(session).at_step(person.id, "zalo-quet-qr", "mo-zalo")
        assert await ProgressRepo(session).quiz_result(person.id, "zalo-quet-qr", 3, passed=True)
        assert not await ProgressRepo(session).quiz_result(person.id, "zalo-quet-qr", 3, passed=True)
    async with sessions() as session, session.begin():
        commune = await PlacesRepo(session).ensure_commune("xã Bạch Ngọc", ["Xóm 2", "Xóm 3"])
        names = [h.name for h in await PlacesRepo(session).hamlets(commune.id)]
        person = await PeopleRepo(session).by_ref("telegram:1")
        assert person is not None and person.state["quiz"] == {"q": 1}
        assert person.created_at.tzinfo is not None
        assert await ProgressRepo(session).completed_lessons(person.id) == {"zalo-quet-qr"}
    assert names == ["Xóm 2", "Xóm 3"]  # Xóm 1 is no longer configured: inactive, not deleted
    await engine.dispose()


async def test_erase_removes_every_row_about_a_person(db_url: str) -> None:
    engine = create_engine(db_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        commune = await PlacesRepo(session).ensure_commune("xã Thử", ["Xóm 1"])
        for ref in ("web:aaaaaaaaaaaaaaaaaaaa", "web:bbbbbbbbbbbbbbbbbbbb"):
            person = await PeopleRepo(session).create(ref, commune.id)
            await ConsentRepo(session).record(ref=ref, channel="web", purpose="learning", text_version="v1",
                                              text="…", granted=True)
            await ProgressRepo(session).at_step(person.id, "bai", "mot")
    async with sessions() as session, session.begin():
        await PeopleRepo(session).erase("web:aaaaaaaaaaaaaaaaaaaa")
    async with sessions() as session:
        refs = list(await session.scalars(select(Person.ref)))
        consents = await ConsentRepo(session).history("web:aaaaaaaaaaaaaaaaaaaa")
        events = await session.scalar(text("SELECT count(*) FROM progress_events"))
    assert refs == ["web:bbbbbbbbbbbbbbbbbbbb"] and consents == []
    assert events == 2  # the other person's lesson_started and step_reached
    await engine.dispose()


async def test_sqlite_file_settings_and_unrecoverable_deletion(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "secure.db"
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    await migrate.upgrade(engine)
    async with engine.connect() as connection:
        assert (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
        # The inline try never waits; a statement that must wait runs in a thread with the 10 s timeout.
        assert (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar() == 0
        raw = await connection.get_raw_connection()
        assert raw.driver_connection._busy_timeout_ms == 10_000  # type: ignore[union-attr]
        assert (await connection.exec_driver_sql("PRAGMA secure_delete")).scalar() == 1
    sessions = session_factory(engine)
    secret = "web:UNIQUE-MARKER-4f1c9e"
    async with sessions() as session, session.begin():
        commune = await PlacesRepo(session).ensure_commune("xã Thử", ["Xóm 1"])
        await PeopleRepo(session).create(secret, commune.id)
    async with sessions() as session, session.begin():
        await PeopleRepo(session).erase(secret)
        assert await session.scalar(select(func.count()).select_from(Person)) == 0
    await engine.dispose()
    with contextlib.closing(sqlite3.connect(db)) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    leftovers = b"".join(p.read_bytes() for p in tmp_path.glob("secure.db*"))
    assert secret.encode() not in leftovers


def test_db_upgrade_command(tmp_path: pathlib.Path, monkeypatch: object, capsys: object) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    db = tmp_path / "cli.db"
    monkeypatch.setenv("HOCVUSO_DATABASE_URL", f"sqlite+aiosqlite:///{db}")
    monkeypatch.chdir(tmp_path)
    assert main(["db", "upgrade"]) == 0
    assert main(["db", "upgrade"]) == 0
    assert db.stat().st_size > 0
