"""What every channel offers the engine: deliver a neutral Reply to one of its people."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.messages import Inbound, Reply
from bot.settings import Settings


class DeliveryError(Exception):
    """Sending failed. `permanent`: retrying this message cannot help (it is dropped).
    `unreachable`: the person cannot be messaged at all (they blocked the bot) until they write again."""

    def __init__(self, message: str, *, permanent: bool = False, retry_after: float | None = None,
                 unreachable: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent or unreachable
        self.retry_after = retry_after
        self.unreachable = unreachable


class Busy(Exception):
    """The engine could not handle an inbound: the database stayed busy or unreachable, and nothing of it was
    written. A channel answers so that the platform sends it again: a webhook with 503, polling by not
    confirming it."""


class Channel(Protocol):
    name: str  # the person-ref prefix it serves: "web", "telegram", "zalo"

    async def send(self, person: str, reply: Reply) -> None: ...


class Service(Protocol):
    """A channel that runs: registers its HTTP routes, then starts (polling, setWebhook) and stops."""

    name: str

    def routes(self, app: web.Application) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True)
class ChannelEnv:
    """What a running channel gets from the wiring."""

    settings: Settings
    handle: Callable[[Inbound], Awaitable[bool]]  # the engine: commit, then deliver in the background
    sessions: async_sessionmaker[AsyncSession]  # for channel bookkeeping (served media, role lists)
    command_menu: Callable[..., list[tuple[str, str]]]  # Router.command_menu(*roles)
