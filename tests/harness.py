"""Drive the real engine and handlers with no platform: a recording channel and a chat helper."""

from __future__ import annotations

import itertools
import pathlib
from dataclasses import dataclass, field

from bot.app import App, build
from bot.messages import Inbound, InboundKind, Reply
from bot.settings import Settings

_keys = itertools.count(1)


@dataclass
class Recorder:
    """A channel that keeps what it is asked to send (the 'test:' people)."""

    name: str = "test"
    sent: list[tuple[str, Reply]] = field(default_factory=list)
    fail_next: int = 0

    async def send(self, person: str, reply: Reply) -> None:
        if self.fail_next:
            self.fail_next -= 1
            from bot.channels.base import DeliveryError

            raise DeliveryError("simulated outage")
        self.sent.append((person, reply))


# Set by tests/conftest.py when the suite runs on PostgreSQL (HOCVUSO_TEST_DB=postgresql): one fresh database per test.
POSTGRES_URL: str | None = None


def database_url(db_path: pathlib.Path) -> str:
    """The test's database: a SQLite file at db_path, or the test's own PostgreSQL database."""
    return POSTGRES_URL or f"sqlite+aiosqlite:///{db_path}"


def settings_for(db_path: pathlib.Path, **extra: object) -> Settings:
    values: dict[str, object] = {"database_url": database_url(db_path), "commune": "xã Bạch Ngọc",
                                  "hamlets": "Xóm 1,Xóm 2,Xóm 3,Xóm 4,Xóm 5", "web_chat": False,
                                  "flood_limit": 10_000}  # tests click faster than people; flood control has its own
    return Settings(_env_file=None, **(values | extra))  # type: ignore[call-arg, arg-type]


TEST_LESSONS = pathlib.Path(__file__).with_name("data") / "lessons"


async def start_app(db_path: pathlib.Path, recorder: Recorder | None = None,
                    lessons: pathlib.Path | None = TEST_LESSONS, **extra: object) -> tuple[App, Recorder]:
    """The real app on a SQLite file; by default on the small test lessons (pass lessons=None for the real ones)."""
    app = await build(settings_for(db_path, lessons_dir=lessons, **extra))
    recorder = recorder or Recorder()
    app.engine.add_channel(recorder)
    return app, recorder


class Chat:
    """One person talking to the bot; returns the replies each message produced."""

    def __init__(self, app: App, recorder: Recorder, person: str = "test:1") -> None:
        self.app, self.recorder, self.person = app, recorder, person
        self.last: list[Reply] = []

    async def _send(self, inbound: Inbound) -> list[Reply]:
        before = len(self.recorder.sent)
        await self.app.engine.handle(inbound)
        self.last = [reply for person, reply in self.recorder.sent[before:] if person == self.person]
        return self.last

    async def say(self, text: str) -> list[Reply]:
        return await self._send(Inbound.from_text(self.person, text, key=f"k{next(_keys)}"))

    async def press(self, label: str) -> list[Reply]:
        """Press the button with this label (or starting with it) on the latest message that has it."""
        for reply in reversed(self.last):
            for choice in reply.flat_choices():
                if choice.label == label or choice.label.startswith(label):
                    return await self.choose(choice.payload)
        raise AssertionError(f"no button {label!r} in {[c.label for r in self.last for c in r.flat_choices()]}")

    async def choose(self, payload: str) -> list[Reply]:
        return await self._send(Inbound(person=self.person, kind=InboundKind.CHOICE, key=f"k{next(_keys)}",
                                        payload=payload))

    async def send_kind(self, kind: InboundKind) -> list[Reply]:
        return await self._send(Inbound(person=self.person, kind=kind, key=f"k{next(_keys)}"))

    @property
    def text(self) -> str:
        return "\n---\n".join(reply.text for reply in self.last)

    def labels(self) -> list[str]:
        return [choice.label for reply in self.last for choice in reply.flat_choices()]

    async def onboard(self, hamlet: str = "Xóm 2", age: str = "Từ 60 tuổi") -> None:
        await self.say("/start")
        await self.press("✅ Đồng ý")
        await self.say(hamlet)
        await self.press(age)
