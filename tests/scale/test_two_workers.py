"""Two real worker processes on one PostgreSQL database behind webhooks: 100 people take a lesson with their
updates spread over both workers (some posted to both at once); no step lost or doubled, each reply sent once."""

from __future__ import annotations

import asyncio
import os
import pathlib
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
import pytest

from tests.channels.telegram_helpers import free_port
from tests.conftest import ON_POSTGRES, PG_ADMIN
from tests.fakes.telegram_api import FakeTelegram
from tests.harness import TEST_LESSONS

HOCVUSO = pathlib.Path(sys.executable).with_name("hocvuso")
SECRET = "two-workers-secret-123"
PEOPLE = int(os.environ.get("HOCVUSO_TWO_WORKERS_PEOPLE", "100"))

# (what the person sends, a piece of the reply that shows it was handled)
SCRIPT: list[tuple[str, str, str]] = [
    ("text", "/start", "có đồng ý không"), ("choice", "consent:yes", "xóm nào"),
    ("choice", "hamlet:2", "thuộc nhóm tuổi nào"),
    ("choice", "age:60+", "Menu chính"), ("choice", "lesson:bai-thu", "Bước 1/3"),
    ("choice", "next:bai-thu:mot", "Bước 2/3"), ("text", "50.000", "Bước 3/3"),
    ("choice", "did:bai-thu:ba:y", "Câu 1/3"), ("choice", "ans:bai-thu:q1:1", "Câu 2/3"),
    ("choice", "ans:bai-thu:q2:1", "Câu 3/3"), ("choice", "ans:bai-thu:q3:0", "hoàn thành bài"),
]


@pytest.fixture
async def database() -> AsyncIterator[str]:
    if ON_POSTGRES:
        pytest.skip("runs once, in the SQLite pass (it makes its own PostgreSQL database)")
    name = f"hocvuso_w_{uuid.uuid4().hex[:10]}"
    try:
        admin = await asyncpg.connect(PG_ADMIN, timeout=5)
    except OSError as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    admin = await asyncpg.connect(PG_ADMIN, timeout=5)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


async def wait_healthy(port: int) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError(f"worker on {port} never became healthy")


async def test_two_workers_one_database(database: str, tmp_path: pathlib.Path) -> None:
    fake = FakeTelegram()
    await fake.start()
    ports = [free_port(), free_port()]
    base = {**os.environ, "HOCVUSO_TELEGRAM_TOKEN": fake.token, "HOCVUSO_TELEGRAM_API_URL": fake.root,
            "HOCVUSO_DATABASE_URL": database, "HOCVUSO_COMMUNE": "xã Bạch Ngọc", "HOCVUSO_HAMLETS": "Xóm 1,Xóm 2",
            "HOCVUSO_WEB_CHAT": "false", "HOCVUSO_LESSONS_DIR": str(TEST_LESSONS), "HOCVUSO_LOG_LEVEL": "WARNING",
            "HOCVUSO_WEBHOOK_SECRET": SECRET, "HOCVUSO_FLOOD_LIMIT": "1000"}
    workers = []
    for port in ports:
        env = {**base, "HOCVUSO_PORT": str(port), "HOCVUSO_PUBLIC_URL": f"http://127.0.0.1:{port}"}
        workers.append(await asyncio.create_subprocess_exec(str(HOCVUSO), "run", env=env, cwd=tmp_path))
        await wait_healthy(port)  # the first migrates; the second finds the schema ready
    try:
        async with aiohttp.ClientSession() as http:
            async def post(port: int, update: dict[str, Any]) -> None:
                async with http.post(f"http://127.0.0.1:{port}/telegram/webhook", json=update,
                                     headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as response:
                    assert response.status == 200, await response.text()

            def texts(user: int) -> list[str]:
                return [str(c.params.get("text", "")) for c in fake.sent(user)]

            async def person(user: int) -> None:
                for n, (kind, what, marker) in enumerate(SCRIPT):
                    update = (fake.text_update(user, what) if kind == "text" else fake.callback_update(user, what))
                    before = len(texts(user))
                    if n % 4 == 1:  # the same update reaches both workers at once
                        await asyncio.gather(post(ports[0], update), post(ports[1], update))
                    else:
                        await post(ports[(user + n) % 2], update)
                    await fake.wait_for(lambda f, b=before, m=marker: any(m in t for t in texts(user)[b:]), timeout=60)

            gate = asyncio.Semaphore(25)

            async def guarded(user: int) -> None:
                async with gate:
                    await person(user)

            await asyncio.gather(*(guarded(user) for user in range(1, PEOPLE + 1)))
            await asyncio.sleep(1.0)  # any stray duplicate would arrive now
        for user in range(1, PEOPLE + 1):
            counts = Counter(marker for text in texts(user) for _, _, marker in SCRIPT if marker in text)
            assert all(counts[marker] == 1 for _, _, marker in SCRIPT), (user, counts, texts(user))
        connection = await asyncpg.connect(database.replace("postgresql+asyncpg", "postgresql"))
        try:
            finished = await connection.fetchval(
                "SELECT count(*) FROM lesson_progress WHERE lesson_id = 'bai-thu' AND completed_at IS NOT NULL "
                "AND best_score = 3 AND attempts = 1")
            steps = await connection.fetch("SELECT person_id, count(*) AS n FROM progress_events "
                                           "WHERE kind = 'step_reached' GROUP BY person_id")
            left = await connection.fetchval("SELECT count(*) FROM outbox")
        finally:
            await connection.close()
        assert finished == PEOPLE
        assert len(steps) == PEOPLE and {row["n"] for row in steps} == {4}  # steps 1, 2, 3 and the quiz
        assert left == 0
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            await asyncio.wait_for(worker.wait(), timeout=30)
        await fake.stop()


def test_workers_are_refused_where_they_cannot_work() -> None:
    from bot.settings import Settings
    from bot.workers import refusal

    polling = Settings(_env_file=None, database_url="postgresql+asyncpg://x/y", web_chat=False)  # type: ignore[call-arg]
    assert "webhook mode" in (refusal(polling, 2) or "")
    sqlite = Settings(_env_file=None, public_url="https://bot.example.vn", web_chat=False)  # type: ignore[call-arg]
    assert "PostgreSQL" in (refusal(sqlite, 2) or "")
    web = Settings(_env_file=None, public_url="https://b.vn", database_url="postgresql+asyncpg://x/y")  # type: ignore[call-arg]
    assert "WEB_CHAT" in (refusal(web, 2) or "")
    ok = Settings(_env_file=None, public_url="https://b.vn", database_url="postgresql+asyncpg://x/y",  # type: ignore[call-arg]
                  web_chat=False)
    assert refusal(ok, 4) is None
