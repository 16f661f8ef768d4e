from __future__ import annotations

import os
import pathlib
import uuid
from collections.abc import AsyncIterator

import pytest

from bot.app import App
from tests import harness
from tests.harness import Chat, Recorder, start_app


@pytest.fixture
async def app(tmp_path: pathlib.Path) -> AsyncIterator[tuple[App, Recorder]]:
    started, recorder = await start_app(tmp_path / "bot.db")
    yield started, recorder
    await started.close()


@pytest.fixture
async def chat(app: tuple[App, Recorder]) -> Chat:
    return Chat(*app)


ON_POSTGRES = os.environ.get("HOCVUSO_TEST_DB") == "postgresql"
PG_ADMIN = os.environ.get("HOCVUSO_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if ON_POSTGRES:
        skip = pytest.mark.skip(reason="SQLite-specific (file pragmas, sqlite3 module, the file itself)")
        for item in items:
            if "sqlite_only" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(autouse=True)
async def _postgres_database() -> AsyncIterator[None]:
    """With HOCVUSO_TEST_DB=postgresql every test gets its own fresh PostgreSQL database."""
    if not ON_POSTGRES:
        yield
        return
    import asyncpg

    name = f"hocvuso_t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_ADMIN, timeout=10)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    harness.POSTGRES_URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    try:
        yield
    finally:
        harness.POSTGRES_URL = None
        admin = await asyncpg.connect(PG_ADMIN, timeout=10)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
