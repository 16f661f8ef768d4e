"""Images the bot serves itself (bot/media/served.py): unguessable, expiring, not listable, served as PNG."""

from __future__ import annotations

import datetime as dt
import pathlib
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.media import served
from storage import migrate
from storage.db import create_engine, session_factory
from storage.media import MediaRepo
from tests.harness import database_url

IMAGE = b"\x89PNG\r\n\x1a\n" + b"pretend-png-body" * 10
HOUR = dt.timedelta(hours=1)


@pytest.fixture
async def sessions(tmp_path: pathlib.Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    db = create_engine(database_url(tmp_path / 'media.db'))
    await migrate.upgrade(db)
    yield session_factory(db)
    await db.dispose()


@pytest.fixture
async def client(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[TestClient[Any, Any]]:
    app = web.Application()
    served.register(app, sessions)
    served.register(app, sessions)  # a second channel asking again changes nothing
    assert len([r for r in app.router.resources() if r.name == served.ROUTE_NAME]) == 1
    test_client: TestClient[Any, Any] = TestClient(TestServer(app))
    await test_client.start_server()
    yield test_client
    await test_client.close()


async def test_a_published_image_is_served_with_safe_headers(sessions: async_sessionmaker[AsyncSession],
                                                             client: TestClient[Any, Any]) -> None:
    token = await served.publish(sessions, IMAGE, HOUR)
    assert re.fullmatch(r"[A-Za-z0-9_-]{20,64}", token)
    assert served.url_for("https://bot.example.vn/", token, IMAGE) == f"https://bot.example.vn/media/{token}.png"
    response = await client.get(f"/media/{token}.png")
    assert response.status == 200 and await response.read() == IMAGE
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["Cache-Control"] == "private, max-age=3600"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert token != await served.publish(sessions, IMAGE, HOUR)  # every publish gets its own token


async def test_unknown_malformed_and_listing_requests_are_404(sessions: async_sessionmaker[AsyncSession],
                                                             client: TestClient[Any, Any]) -> None:
    token = await served.publish(sessions, IMAGE, HOUR)
    for path in ("/media/", "/media", f"/media/{token}", f"/media/{token}.jpg", f"/media/{token}.gif",
                 "/media/short.png",
                 f"/media/{'A' * 65}.png", f"/media/{token[:-2]}.png", "/media/%2E%2E%2Fbot.db.png",
                 f"/media/{token[:10]}*{token[11:]}.png"):
        response = await client.get(path)
        assert response.status == 404, path


async def test_expired_images_are_gone(sessions: async_sessionmaker[AsyncSession],
                                       client: TestClient[Any, Any]) -> None:
    expired = await served.publish(sessions, IMAGE, dt.timedelta(0))
    assert (await client.get(f"/media/{expired}.png")).status == 404
    async with sessions() as session, session.begin():
        await MediaRepo(session).purge()
    async with sessions() as session:
        assert await MediaRepo(session).get(expired, now=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)) is None


async def test_a_forwarded_jpeg_photo_stays_jpeg(sessions: async_sessionmaker[AsyncSession],
                                                 client: TestClient[Any, Any]) -> None:
    photo = b"\xff\xd8\xff\xe0" + b"jpeg-body" * 20
    token = await served.publish(sessions, photo, HOUR)
    assert served.url_for("https://bot.example.vn", token, photo).endswith(f"/media/{token}.jpg")
    response = await client.get(f"/media/{token}.jpg")
    assert response.status == 200 and await response.read() == photo
    assert response.headers["Content-Type"] == "image/jpeg"
    assert (await client.get(f"/media/{token}.png")).status == 404  # never served under the wrong type
    with pytest.raises(ValueError, match="PNG and JPEG"):
        await served.publish(sessions, b"GIF89a...", HOUR)


async def test_only_png_and_jpeg_are_served(sessions: async_sessionmaker[AsyncSession],
                                            client: TestClient[Any, Any]) -> None:
    async with sessions() as session, session.begin():
        token = await MediaRepo(session).put(b"<svg/>", "image/svg+xml", HOUR)
    assert (await client.get(f"/media/{token}.png")).status == 404
