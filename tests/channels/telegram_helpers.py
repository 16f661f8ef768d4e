"""Running the real app's Telegram channel against the fake Bot API, and talking to it as a person would."""

from __future__ import annotations

import socket
from typing import Any

from pydantic import SecretStr

from bot.app import App, build
from tests.fakes.telegram_api import Call, FakeTelegram
from tests.harness import TEST_LESSONS, settings_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def start_bot(db: Any, fake: FakeTelegram, **extra: Any) -> App:
    values: dict[str, Any] = {"telegram_token": SecretStr(fake.token), "telegram_api_url": fake.root,
                              "host": "127.0.0.1", "port": free_port(), "lessons_dir": TEST_LESSONS}
    app = await build(settings_for(db, **(values | extra)))
    await app.serve()
    return app


def buttons(call: Call) -> list[tuple[str, str]]:
    markup = call.params.get("reply_markup") or {}
    return [(b["text"], b["callback_data"]) for row in markup.get("inline_keyboard", []) for b in row]


class TgUser:
    """A Telegram user: sends updates through the fake and waits until the bot has answered them all."""

    def __init__(self, fake: FakeTelegram, app: App, user_id: int = 1001) -> None:
        self.fake, self.app, self.user_id = fake, app, user_id
        self.last: list[Call] = []

    async def _exchange(self, update: dict[str, Any]) -> list[Call]:
        before = len(self.fake.sent(self.user_id))
        self.fake.queue(update)
        await self.fake.wait_for(lambda f: len(f.sent(self.user_id)) > before)
        await self.app.engine.drain()
        self.last = self.fake.sent(self.user_id)[before:]
        return self.last

    async def say(self, text: str) -> list[Call]:
        return await self._exchange(self.fake.text_update(self.user_id, text))

    async def press(self, label: str) -> list[Call]:
        for call in reversed(self.last):
            for text, data in buttons(call):
                if text == label or text.startswith(label):
                    return await self.tap(data)
        raise AssertionError(f"no button {label!r} in {[b for c in self.last for b in buttons(c)]}")

    async def tap(self, data: str) -> list[Call]:
        return await self._exchange(self.fake.callback_update(self.user_id, data))

    @property
    def text(self) -> str:
        return "\n---\n".join(str(c.params.get("text") or c.params.get("caption") or "") for c in self.last)

    def labels(self) -> list[str]:
        return [text for call in self.last for text, _ in buttons(call)]

    def data_of(self, label: str) -> str:
        return next(data for call in self.last for text, data in buttons(call) if text == label)

    async def onboard(self) -> None:
        await self.say("/start")
        await self.press("✅ Đồng ý")
        await self.press("Xóm 1")
        await self.press("Từ 60 tuổi")
