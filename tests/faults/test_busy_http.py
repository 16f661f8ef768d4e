"""A database that stays busy past the engine's retry budget: the HTTP channels answer 503 (the platform or the page
sends again), nothing is half-written, and the same message is handled in full once the database is free.
/healthz says whether the database answers."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request

from bot import app as app_module
from bot import retrying as retrying_module
from bot.app import build
from storage import db as storage_db
from storage.db import create_engine
from tests.faults.test_sqlite_lock import hold_lock
from tests.harness import settings_for

pytestmark = pytest.mark.sqlite_only  # another process holding the SQLite file's lock


async def test_the_web_chat_answers_503_while_the_database_stays_locked_and_handles_the_message_after(
        tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage_db, "SQLITE_BUSY_TIMEOUT_MS", 500)
    monkeypatch.setattr(retrying_module, "BUSY_BUDGET_SECONDS", 1.0)
    app = await build(settings_for(tmp_path / "bot.db", web_chat=True))
    client: TestClient[Any, Any] = TestClient(TestServer(app.web_app))
    await client.start_server()
    try:
        first = await client.post("/api/send", json={"text": "/start", "id": "m1"})
        assert first.status == 200
        holder = await hold_lock(tmp_path / "bot.db", 3.0)
        busy = await client.post("/api/send", json={"text": "/trogiup", "id": "m2"})
        assert busy.status == 503 and (await busy.json()) == {"error": "busy"}
        assert await holder.wait() == 0
        assert (await client.get("/healthz")).status == 200
        again = await client.post("/api/send", json={"text": "/trogiup", "id": "m2"})  # the page sends it again
        assert again.status == 200
        texts = [m["html"] for m in (await again.json())["messages"]]
        assert texts, "the message was handled once the database was free"
    finally:
        await client.close()
        await app.close()


async def test_healthz_is_503_when_the_database_does_not_answer() -> None:
    nowhere = create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    try:
        response = await app_module._healthz(nowhere)(make_mocked_request("GET", "/healthz"))
    finally:
        await nowhere.dispose()
    assert response.status == 503
    assert response.text is not None and '"unreachable"' in response.text
