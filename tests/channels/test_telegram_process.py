"""`hocvuso run` as a real process on Telegram: killed with SIGKILL mid-lesson, restarted, it carries on;
`hocvuso links` prints each hamlet's deep link."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
import signal
import sqlite3
import sys

from tests.channels.telegram_helpers import buttons, free_port
from tests.fakes.telegram_api import BOT_USERNAME, FakeTelegram
from tests.harness import TEST_LESSONS

ROOT = pathlib.Path(__file__).resolve().parents[2]
HOCVUSO = pathlib.Path(sys.executable).with_name("hocvuso")


def environment(fake: FakeTelegram, db: pathlib.Path) -> dict[str, str]:
    return {**os.environ, "HOCVUSO_TELEGRAM_TOKEN": fake.token, "HOCVUSO_TELEGRAM_API_URL": fake.root,
            "HOCVUSO_DATABASE_URL": f"sqlite+aiosqlite:///{db}", "HOCVUSO_COMMUNE": "xã Bạch Ngọc",
            "HOCVUSO_HAMLETS": "Xóm 1,Xóm 2,Thôn Đông", "HOCVUSO_WEB_CHAT": "false",
            "HOCVUSO_PORT": str(free_port()), "HOCVUSO_LESSONS_DIR": str(TEST_LESSONS), "HOCVUSO_LOG_LEVEL": "WARNING"}


async def exchange(fake: FakeTelegram, update: dict[str, object], replies: int = 1, timeout: float = 30) -> list[str]:
    before = len(fake.sent(1001))
    fake.queue(update)
    await fake.wait_for(lambda f: len(f.sent(1001)) >= before + replies, timeout=timeout)
    return [str(c.params.get("text")) for c in fake.sent(1001)[before:]]


async def outbox_empty(db: pathlib.Path) -> None:
    for _ in range(100):
        with contextlib.closing(sqlite3.connect(db)) as connection:
            if connection.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0:
                return
        await asyncio.sleep(0.05)
    raise AssertionError("outbox never emptied")


def button(fake: FakeTelegram, label: str) -> str:
    for call in reversed(fake.sent(1001)):
        for text, data in buttons(call):
            if text == label:
                return data
    raise AssertionError(label)


async def test_sigkill_mid_lesson_then_restart_continues_at_the_same_step(fake: FakeTelegram,
                                                                          tmp_path: pathlib.Path) -> None:
    env = environment(fake, tmp_path / "bot.db")
    process = await asyncio.create_subprocess_exec(str(HOCVUSO), "run", env=env, cwd=tmp_path)
    try:
        await exchange(fake, fake.text_update(1001, "/start"), replies=2)
        await exchange(fake, fake.callback_update(1001, button(fake, "✅ Đồng ý")))
        await exchange(fake, fake.callback_update(1001, button(fake, "Xóm 2")), replies=1)
        await exchange(fake, fake.callback_update(1001, button(fake, "Từ 60 tuổi")))
        await exchange(fake, fake.callback_update(1001, "lesson:bai-thu"), replies=2)
        texts = await exchange(fake, fake.callback_update(1001, button(fake, "▶ Tiếp tục")))
        assert "Bước 2/3" in texts[-1]
        await outbox_empty(tmp_path / "bot.db")  # killed between messages, not inside a send
    finally:
        process.send_signal(signal.SIGKILL)
        await process.wait()
    assert process.returncode == -signal.SIGKILL

    process = await asyncio.create_subprocess_exec(str(HOCVUSO), "run", env=env, cwd=tmp_path)
    try:
        texts = await exchange(fake, fake.text_update(1001, "/start"), replies=2)
        assert "học tiếp" in texts[0].lower() and "Bước 2/3" in texts[1]
        texts = await exchange(fake, fake.text_update(1001, "50.000"), replies=2)
        assert "Đúng rồi" in texts[0] and "Bước 3/3" in texts[1]
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=30) == 0  # a clean stop on SIGTERM


async def test_links_prints_each_hamlets_deep_link(fake: FakeTelegram, tmp_path: pathlib.Path) -> None:
    process = await asyncio.create_subprocess_exec(str(HOCVUSO), "links", env=environment(fake, tmp_path / "x.db"),
                                                   cwd=tmp_path, stdout=asyncio.subprocess.PIPE)
    out, _ = await process.communicate()
    assert process.returncode == 0
    assert out.decode().splitlines() == [
        f"Xóm 1: https://t.me/{BOT_USERNAME}?start=xom-1",
        f"Xóm 2: https://t.me/{BOT_USERNAME}?start=xom-2",
        f"Thôn Đông: https://t.me/{BOT_USERNAME}?start=thon-dong",
    ]
