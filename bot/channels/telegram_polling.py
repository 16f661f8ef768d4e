"""Long polling that confirms an update to Telegram only after the engine has committed it.

python-telegram-bot's Updater asks for the next batch (which confirms the previous one: getUpdates with
offset = last id + 1) as soon as a batch is queued, before it is handled; a crash in between loses those updates
for good. Here a batch is handled first (its inbounds committed: replies go out in the background), and only then
is the offset moved past it. An update whose handling failed (the database stayed busy) is not confirmed: it and
the ones after it come again, and the ones already committed are recognised by their inbox keys.

One person's updates in a batch are handled in order; different people's at the same time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import warnings
from collections.abc import Awaitable, Callable, Sequence

from telegram import Bot, Update
from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.warnings import PTBDeprecationWarning

from bot.cancel import unless_cancelled

log = logging.getLogger(__name__)

Handle = Callable[[Update], Awaitable[None]]
MAX_PAUSE = 30.0


class Poller:
    def __init__(self, bot: Bot, handle: Handle, allowed_updates: Sequence[str], *, timeout: int = 30) -> None:
        self._bot = bot
        self._handle = handle
        self._allowed = list(allowed_updates)
        self._timeout = timeout
        self.offset: int | None = None  # None until the first batch: Telegram then sends every unconfirmed update

    async def run(self) -> None:
        """Poll until cancelled. Bad tokens end it; network trouble and 5xx are waited out."""
        pause = 1.0
        while True:
            try:
                updates = await self._bot.get_updates(offset=self.offset, timeout=self._timeout,
                                                      allowed_updates=self._allowed,
                                                      read_timeout=self._timeout + 10)
            except InvalidToken:
                raise
            except RetryAfter as exc:
                unless_cancelled()
                await asyncio.sleep(retry_seconds(exc))
                continue
            except TimedOut:
                unless_cancelled()
                continue  # a long poll that outlived the read timeout: ask again
            except Conflict:
                unless_cancelled()
                log.error("telegram: another process polls this bot (409); waiting")
                await asyncio.sleep(pause)
                pause = min(MAX_PAUSE, pause * 2)
                continue
            except (NetworkError, TelegramError) as exc:
                unless_cancelled()
                log.warning("telegram: getUpdates failed (%s); trying again", type(exc).__name__)
                await asyncio.sleep(pause)
                pause = min(MAX_PAUSE, pause * 2)
                continue
            pause = 1.0
            if updates:
                await self._take(updates)

    async def _take(self, updates: Sequence[Update]) -> None:
        """Handle a batch; move the offset past every update up to the first one that could not be handled."""
        failed = await self.handle_batch(updates)
        if failed is None:
            self.offset = max(update.update_id for update in updates) + 1
            return
        self.offset = failed
        log.warning("telegram: an update could not be handled; it is not confirmed and comes again")
        await asyncio.sleep(1.0)

    async def handle_batch(self, updates: Sequence[Update]) -> int | None:
        """The lowest update_id whose handling failed, or None when all were handled."""
        lanes: dict[object, list[Update]] = {}
        for update in sorted(updates, key=lambda u: u.update_id):
            lanes.setdefault(_sender(update), []).append(update)
        results = await asyncio.gather(*(self._lane(lane) for lane in lanes.values()))
        failures = [first for first in results if first is not None]
        return min(failures) if failures else None

    async def _lane(self, updates: list[Update]) -> int | None:
        """One sender's updates in order; stops at the first failure (the rest come again with it)."""
        for update in updates:
            try:
                await self._handle(update)
            except asyncio.CancelledError:
                raise
            except Exception:
                unless_cancelled()
                log.exception("telegram: update %s failed", update.update_id)
                return update.update_id
        return None


def _sender(update: Update) -> object:
    user = update.effective_user
    return user.id if user is not None else ("update", update.update_id)


def retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that the type becomes timedelta; both are handled
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
