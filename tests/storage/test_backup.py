"""`hocvuso backup` / `restore` on real SQLite files: a snapshot taken while the bot writes, restore, refusals."""

from __future__ import annotations

import asyncio
import os
import pathlib
import shutil
import sqlite3
import stat

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import select, text

from bot.backup import BackupError, backup, restore, run_backup, run_restore
from storage import migrate
from storage.db import create_engine, session_factory
from storage.models import Commune, MediaFile, utcnow
from storage.people import PeopleRepo
from storage.places import PlacesRepo
from storage.privacy import ConsentRepo
from storage.progress import ProgressRepo

COMMUNE = "xã Bạch Ngọc"
HEAD = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()


def url(path: pathlib.Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def seeded(path: pathlib.Path, *, blobs: int = 0) -> int:
    """A migrated database with a commune, one learner with progress and consent, and `blobs` 512 kB media rows
    (so that copying it takes a moment). Returns the commune id."""
    engine = create_engine(url(path))
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        commune = await PlacesRepo(session).ensure_commune(COMMUNE, ["Xóm 1", "Xóm 2"])
        person = await PeopleRepo(session).create("telegram:seed", commune.id)
        person.age_group = "60+"
        await ProgressRepo(session).at_step(person.id, "zalo-quet-qr", "mo-zalo")
        await ConsentRepo(session).record(ref="telegram:seed", channel="telegram", purpose="learning",
                                          text_version="v1", text="…", granted=True)
        now = utcnow()
        for n in range(blobs):
            session.add(MediaFile(token=f"blob-{n:04d}-padding-padding", content_type="image/png",
                                  data=os.urandom(512 * 1024), created_at=now, expires_at=now))
        commune_id = commune.id
    await engine.dispose()
    return commune_id


def rows(path: pathlib.Path, sql: str) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(path)
    try:
        return list(connection.execute(sql))
    finally:
        connection.close()


async def test_a_backup_taken_while_the_bot_writes_is_one_consistent_snapshot(tmp_path: pathlib.Path) -> None:
    live = tmp_path / "live.db"
    commune_id = await seeded(live, blobs=60)  # ~30 MB: the copy takes long enough for writes to land meanwhile
    writer_engine = create_engine(url(live))  # the "bot": a second engine, writing in a loop
    sessions = session_factory(writer_engine)
    committed = 0
    stop, progressed = asyncio.Event(), asyncio.Event()

    async def write_forever() -> None:
        nonlocal committed
        while not stop.is_set():
            ref = f"zalo:{committed}"
            async with sessions() as session, session.begin():  # a person and their consent: one transaction
                await PeopleRepo(session).create(ref, commune_id)
                await ConsentRepo(session).record(ref=ref, channel="zalo", purpose="learning", text_version="v1",
                                                  text="…", granted=True)
            committed += 1
            progressed.set()

    async def until(count: int) -> None:
        while committed < count:
            progressed.clear()
            await asyncio.wait_for(progressed.wait(), 30)  # a failing writer ends the test, not hangs it

    writer = asyncio.create_task(write_forever())
    await until(50)
    before = committed
    info = await backup(url(live), tmp_path / "copy.db")
    during = committed - before
    await until(before + during + 20)  # the bot carries on after the backup, too
    stop.set()
    await writer
    await writer_engine.dispose()

    copy = tmp_path / "copy.db"
    assert rows(copy, "PRAGMA integrity_check") == [("ok",)]
    people = {str(r[0]) for r in rows(copy, "SELECT ref FROM people WHERE ref LIKE 'zalo:%'")}
    consents = {str(r[0]) for r in rows(copy, "SELECT person_ref FROM consent_records WHERE channel = 'zalo'")}
    k = len(people)
    assert people == {f"zalo:{n}" for n in range(k)}  # a prefix of what was committed: nothing torn, no gaps
    assert consents == people  # every person copied has their consent row, and no consent lacks its person
    assert before <= k <= before + during  # everything committed before the backup began is in it
    assert during > 0, "the writer should have kept committing while the backup ran"
    assert info.people == k + 1 and info.revision == HEAD and info.size_bytes == copy.stat().st_size
    assert rows(live, "SELECT count(*) FROM people") == [(committed + 1,)]  # the live database went on
    # A single self-contained file (rollback-journal mode, no -wal beside it), readable by its owner only.
    assert copy.read_bytes()[18:20] == b"\x01\x01"
    assert not (tmp_path / "copy.db-wal").exists()
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temporary left


async def test_restore_into_a_new_place_reads_the_data_back(tmp_path: pathlib.Path) -> None:
    await seeded(tmp_path / "live.db")
    await backup(url(tmp_path / "live.db"), tmp_path / "backups" / "monday.db")
    target = tmp_path / "elsewhere" / "hocvuso.db"
    info = await restore(url(target), tmp_path / "backups" / "monday.db")
    assert (info.path, info.people, info.backup_revision, info.revision) == (target, 1, HEAD, HEAD)

    engine = create_engine(url(target))
    sessions = session_factory(engine)
    async with sessions() as session:
        person = await PeopleRepo(session).by_ref("telegram:seed")
        assert person is not None and person.age_group == "60+"
        assert (await ProgressRepo(session).get(person.id, "zalo-quet-qr")) is not None
        assert [c.granted for c in await ConsentRepo(session).history("telegram:seed")] == [True]
        commune = await session.scalar(select(Commune))
        assert commune is not None and commune.name == COMMUNE
    async with sessions() as session, session.begin():  # and the bot can write to it again
        await PeopleRepo(session).create("web:after-restore", person.commune_id)
    await engine.dispose()


async def test_restore_replaces_the_live_database_and_ignores_its_stale_wal(tmp_path: pathlib.Path) -> None:
    """After a crash the live database may have a -wal full of committed pages; replayed over the restored
    file, it would corrupt it. Restore removes it first."""
    await seeded(tmp_path / "old.db")
    await backup(url(tmp_path / "old.db"), tmp_path / "backup.db")

    live = tmp_path / "live.db"
    engine = create_engine(url(live))
    await migrate.upgrade(engine)
    async with session_factory(engine)() as session, session.begin():
        await PlacesRepo(session).ensure_commune("xã Khác", ["Thôn A"])
    await engine.dispose()
    crashed = sqlite3.connect(live)  # a "crash" that leaves committed pages only in the -wal
    crashed.execute("PRAGMA wal_autocheckpoint=0")
    crashed.execute("UPDATE communes SET name = 'CHỈ CÓ TRONG WAL'")
    crashed.commit()
    stale_wal = (tmp_path / "live.db-wal").read_bytes()
    crashed.close()
    (tmp_path / "live.db-wal").write_bytes(stale_wal)
    (tmp_path / "live.db-shm").write_bytes(b"\0" * 32768)

    info = await restore(url(live), tmp_path / "backup.db")
    assert info.people == 1
    assert rows(live, "PRAGMA integrity_check") == [("ok",)]
    assert rows(live, "SELECT name FROM communes") == [(COMMUNE,)]
    assert rows(live, "SELECT ref FROM people") == [("telegram:seed",)]


async def test_restore_brings_an_older_backup_up_to_date(tmp_path: pathlib.Path) -> None:
    old = tmp_path / "old.db"
    engine = create_engine(url(old))
    await migrate.upgrade(engine, "0004")
    async with engine.begin() as connection:
        await connection.execute(text("INSERT INTO communes (id, name) VALUES (1, 'xã Cũ')"))
        await connection.execute(text(
            "INSERT INTO people (ref, commune_id, guardian_confirmed, is_mentor, is_official, state, created_at, "
            "last_seen_at) VALUES ('zalo:old', 1, 0, 0, 0, '{}', '2025-12-01 00:00:00', '2025-12-01 00:00:00')"))
    await engine.dispose()
    taken = await backup(url(old), tmp_path / "december.db")
    assert taken.revision == "0004" and taken.people == 1

    target = tmp_path / "live.db"
    info = await restore(url(target), tmp_path / "december.db")
    assert (info.backup_revision, info.revision, info.people) == ("0004", HEAD, 1)
    engine = create_engine(url(target))
    async with session_factory(engine)() as session:
        person = await PeopleRepo(session).by_ref("zalo:old")
        assert person is not None and person.announcements_off is False  # a column added by a later migration
    await engine.dispose()


async def test_restore_refuses_what_is_not_a_good_backup_and_leaves_the_live_database_alone(
        tmp_path: pathlib.Path) -> None:
    live = tmp_path / "live.db"
    await seeded(live)
    before = live.read_bytes()
    good = tmp_path / "good.db"
    await backup(url(live), good)

    corrupt = tmp_path / "corrupt.db"  # a real header, then garbage over the tables' pages
    data = bytearray(good.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[page:] = os.urandom(len(data) - page)
    corrupt.write_bytes(bytes(data))
    text_file = tmp_path / "notes.db"
    text_file.write_text("Danh sách xóm\n" * 200, encoding="utf-8")
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    foreign = tmp_path / "foreign.db"  # an intact SQLite database, but not hocvuso's
    connection = sqlite3.connect(foreign)
    connection.execute("CREATE TABLE t (x)")
    connection.commit()
    connection.close()
    newer = tmp_path / "newer.db"  # from a hocvuso that knows migrations this one does not
    shutil.copyfile(good, newer)
    connection = sqlite3.connect(newer)
    connection.execute("UPDATE alembic_version SET version_num = '9999'")
    connection.commit()
    connection.close()

    refusals = {corrupt: "cannot be read|integrity", text_file: "not an SQLite database",
                empty: "not an SQLite database", foreign: "not a hocvuso database", newer: "does not know",
                tmp_path / "missing.db": "no file"}
    for source, reason in refusals.items():
        with pytest.raises(BackupError, match=reason):
            await restore(url(live), source)
    with pytest.raises(BackupError, match="live database itself"):
        await restore(url(live), live)
    assert live.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


async def test_backup_refuses_to_overwrite_unless_asked(tmp_path: pathlib.Path) -> None:
    live = tmp_path / "live.db"
    await seeded(live)
    out = tmp_path / "backup.db"
    out.write_bytes(b"yesterday's backup")
    with pytest.raises(BackupError, match=r"already exists.*--overwrite"):
        await backup(url(live), out)
    assert out.read_bytes() == b"yesterday's backup"
    with pytest.raises(BackupError, match="live database"):
        await backup(url(live), live, overwrite=True)
    with pytest.raises(BackupError, match="no database"):
        await backup(url(tmp_path / "missing.db"), tmp_path / "x.db")
    assert not (tmp_path / "missing.db").exists()  # looking did not create it
    info = await backup(url(live), out, overwrite=True)
    assert info.people == 1 and rows(out, "PRAGMA integrity_check") == [("ok",)]


async def test_postgresql_is_pointed_to_pg_dump(tmp_path: pathlib.Path) -> None:
    pg = "postgresql+asyncpg://hocvuso@127.0.0.1:5432/hocvuso"
    with pytest.raises(BackupError, match=r"pg_dump -Fc.*pg_restore.*operations\.md"):
        await backup(pg, tmp_path / "x.db")
    with pytest.raises(BackupError, match="pg_dump"):
        await restore(pg, tmp_path / "x.db")
    with pytest.raises(BackupError, match="file"):
        await backup("sqlite+aiosqlite://", tmp_path / "x.db")


def test_the_commands(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    live = tmp_path / "live.db"
    asyncio.run(seeded(live))
    assert run_backup(url(live), tmp_path / "b.db") == 0
    assert "1 people" in capsys.readouterr().out
    assert run_backup(url(live), tmp_path / "b.db") == 2
    assert "--overwrite" in capsys.readouterr().err
    target = tmp_path / "restored.db"
    assert run_restore(url(target), tmp_path / "b.db") == 2  # without --yes: nothing happens
    assert "--yes" in capsys.readouterr().err and not target.exists()
    assert run_restore(url(target), tmp_path / "b.db", yes=True) == 0
    assert f"revision {HEAD} → {HEAD}" in capsys.readouterr().out
    assert run_restore("postgresql+asyncpg://h/db", tmp_path / "b.db", yes=True) == 2
    assert "pg_dump" in capsys.readouterr().err

