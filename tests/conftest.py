from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator

import pytest

from bot.app import App
from tests.harness import Chat, Recorder, start_app


@pytest.fixture
async def app(tmp_path: pathlib.Path) -> AsyncIterator[tuple[App, Recorder]]:
    started, recorder = await start_app(tmp_path / "bot.db")
    yield started, recorder
    await started.close()


@pytest.fixture
async def chat(app: tuple[App, Recorder]) -> Chat:
    return Chat(*app)
