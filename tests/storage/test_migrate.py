"""Start-up migrations: the at-head check that skips Alembic, and workers migrating a new database together."""

from __future__ import annotations

import asyncio
import pathlib
import sys

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text

from storage import migrate
from storage.db import create_engine

ROOT = pathlib.Path(__file__).resolve().parents[2]
UPGRADE = """
import asyncio, sys
from storage import migrate
from storage.db import create_engine

async def main() -> None:
    engine = create_engine(sys.argv[1])
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()

asyncio.run(main())
"""


def test_head_read_from_the_files_is_alembics_head() -> None:
    assert migrate.head_revision() == ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()


def test_head_is_not_guessed_from_files_it_cannot_read(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "__init__.py").write_text("")
    (versions / "0001_a.py").write_text('revision: str = "0001"\ndown_revision: str | None = None\n')
    (versions / "0002_b.py").write_text('revision = "0002"\ndown_revision = "0001"\n')
    monkeypatch.setattr(migrate, "MIGRATIONS", tmp_path)
    migrate.head_revision.cache_clear()
    try:
        assert migrate.head_revision() == "0002"
        migrate.head_revision.cache_clear()
        (versions / "0003_merge.py").write_text('revision = "0003"\ndown_revision = ("0001", "0002")\n')
        assert migrate.head_revision() is None
        migrate.head_revision.cache_clear()
        (versions / "0003_merge.py").write_text('revision = "0003"\ndown_revision = "0001"\n')
        assert migrate.head_revision() is None  # two heads: 0002 and 0003
    finally:
        monkeypatch.undo()
        migrate.head_revision.cache_clear()


async def test_a_database_at_head_is_not_handed_to_alembic(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = create_engine(db_url)
    try:
        await migrate.upgrade(engine)

        def refuse(*args: object, **kwargs: object) -> None:
            raise AssertionError("Alembic ran on a database already at head")

        monkeypatch.setattr(command, "upgrade", refuse)
        await migrate.upgrade(engine)
        monkeypatch.undo()
        async with engine.connect() as connection:
            versions = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
        assert list(versions) == [migrate.head_revision()]
    finally:
        await engine.dispose()


async def test_an_older_database_is_still_migrated_to_head(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        await migrate.upgrade(engine, "0004")
        await migrate.upgrade(engine)
        async with engine.connect() as connection:
            versions = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
            tables = await connection.run_sync(lambda sync: set(sync.dialect.get_table_names(sync)))
        assert list(versions) == [migrate.head_revision()]
        assert "broadcasts" in tables  # from 0005
    finally:
        await engine.dispose()


async def test_workers_starting_together_on_a_new_database_all_start(db_url: str) -> None:
    async def one() -> tuple[int, bytes]:
        process = await asyncio.create_subprocess_exec(sys.executable, "-c", UPGRADE, db_url, cwd=ROOT,
                                                       stderr=asyncio.subprocess.PIPE)
        _, err = await asyncio.wait_for(process.communicate(), 120)
        return process.returncode or 0, err

    results = await asyncio.gather(*(one() for _ in range(3)))
    assert [code for code, _ in results] == [0, 0, 0], [err.decode()[-500:] for _, err in results]
