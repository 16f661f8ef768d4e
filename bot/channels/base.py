"""What every channel offers the engine: deliver a neutral Reply to one of its people."""

from __future__ import annotations

from typing import Protocol

from bot.messages import Reply


class DeliveryError(Exception):
    """Sending failed. `permanent` means retrying cannot help (blocked the bot, chat gone)."""

    def __init__(self, message: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class Channel(Protocol):
    name: str  # the person-ref prefix it serves: "web", "telegram", "zalo"

    async def send(self, person: str, reply: Reply) -> None: ...
