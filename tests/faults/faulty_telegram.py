"""The fake Bot API made faithful where fault tests need it, and able to break connections.

- getUpdates honours `offset` as Telegram does: an update is forgotten only once a later getUpdates confirms it
  (offset > its id); until then every getUpdates hands it out again. (The plain fake pops updates from a queue,
  so a client killed mid-batch would lose them there, which Telegram would not.)
- `drop_next(method, Drop(...))`: the connection is closed instead of answered, either before the method does
  anything (`after=False`: nothing was sent) or after it did it (`after=True`: the platform delivered the message,
  only the answer was lost).
- Every message the platform accepted (sendMessage/sendPhoto not refused by a scripted failure) is kept in
  `delivered`, per chat, with the message id the bot would see, so tests can tell refused attempts from messages
  a person actually got.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.telegram_api import Call, Failure, FakeTelegram


@dataclass
class Drop:
    after: bool = False  # True: do what was asked (deliver), then drop the connection instead of answering


@dataclass
class Sent:
    chat: int
    text: str
    buttons: list[tuple[str, str]]
    message_id: int
    at: float  # time.monotonic() when the platform accepted it

    def data_of(self, label: str) -> str | None:
        return next((data for text, data in self.buttons if text == label or text.startswith(label)), None)


@dataclass
class FaultyTelegram(FakeTelegram):
    pending: list[dict[str, Any]] = field(default_factory=list)  # unconfirmed updates, oldest first
    confirmed: int = 0  # the highest offset a client has sent: every update below it is confirmed
    confirmed_at: dict[int, float] = field(default_factory=dict)  # update id → when it was confirmed
    handed_out: Counter[int] = field(default_factory=Counter)  # update id → how many getUpdates returned it
    queued: dict[int, dict[str, Any]] = field(default_factory=dict)  # every update ever queued
    drops: dict[str, list[Drop]] = field(default_factory=dict)
    dropped: list[tuple[str, bool, float]] = field(default_factory=list)  # (method, after, at)
    refused: list[tuple[Call, Failure]] = field(default_factory=list)  # calls answered with a scripted failure
    delivered: list[Sent] = field(default_factory=list)
    by_chat: dict[int, list[Sent]] = field(default_factory=dict)
    on_get_updates: Callable[[int], None] | None = None  # called with the offset of each getUpdates, first thing
    on_hand_out: Callable[[list[int]], None] | None = None  # called with the update ids a getUpdates returns
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _chat_wake: dict[int, asyncio.Event] = field(default_factory=dict)

    # ---- what tests do ---------------------------------------------------------------------------

    def queue(self, update: dict[str, Any]) -> dict[str, Any]:
        self.pending.append(update)
        self.queued[update["update_id"]] = update
        self._wake.set()
        self._wake = asyncio.Event()
        return update

    def drop_next(self, method: str, *drops: Drop) -> None:
        self.drops.setdefault(method, []).extend(drops)

    def chat(self, chat_id: int) -> list[Sent]:
        return self.by_chat.get(chat_id, [])

    async def wait_chat(self, chat_id: int, count: int, timeout: float) -> bool:
        """Wait until the chat has more than `count` delivered messages; False on timeout."""
        deadline = time.monotonic() + timeout
        while len(self.chat(chat_id)) <= count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            event = self._chat_wake.setdefault(chat_id, asyncio.Event())
            try:
                await asyncio.wait_for(event.wait(), timeout=remaining)
            except TimeoutError:
                return len(self.chat(chat_id)) > count
        return True

    async def wait_until(self, predicate: Callable[[], bool], timeout: float, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} not met within {timeout} s")
            await asyncio.sleep(0.05)

    # ---- the API ---------------------------------------------------------------------------------

    async def _method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return await super()._method(request)
        if self.drops.get(method):
            return await self._drop(request, method, self.drops[method].pop(0))
        if self.failures.get(method):
            return await self._refuse(request, method, self.failures[method].pop(0))
        return await super()._method(request)

    async def _drop(self, request: web.Request, method: str, drop: Drop) -> web.Response:
        self.dropped.append((method, drop.after, time.monotonic()))
        if drop.after:
            await super()._method(request)  # the platform did it …
        else:
            params, files = await self._params(request)
            self.calls.append(Call(f"{method}:dropped", params, files, time.monotonic()))
        transport = request.transport  # … but the answer never arrives
        if transport is not None:
            transport.abort()
        raise asyncio.CancelledError  # aiohttp writes nothing more on an aborted connection

    async def _refuse(self, request: web.Request, method: str, failure: Failure) -> web.Response:
        """The plain fake's scripted failure, remembering which call it refused."""
        params, files = await self._params(request)
        call = Call(method, params, files, time.monotonic())
        self.calls.append(call)
        self.refused.append((call, failure))
        self._changed.set()
        if failure.delay:
            await asyncio.sleep(failure.delay)
        body: dict[str, Any] = {"ok": False, "error_code": failure.status, "description": failure.description}
        if failure.retry_after is not None:
            body["parameters"] = {"retry_after": failure.retry_after}
        return web.json_response(body, status=failure.status)

    async def _api_getUpdates(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        offset = int(params.get("offset") or 0)
        if offset > self.confirmed:
            now = time.monotonic()
            for update in self.pending:
                if update["update_id"] < offset:
                    self.confirmed_at.setdefault(update["update_id"], now)
            self.pending = [u for u in self.pending if u["update_id"] >= offset]
            self.confirmed = offset
        if self.on_get_updates is not None:
            self.on_get_updates(offset)
        if self.webhook_url:
            return []
        timeout = float(params.get("timeout") or 0)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + timeout
        while True:
            ready = [u for u in self.pending if u["update_id"] >= offset][:limit]
            remaining = deadline - time.monotonic()
            if ready or remaining <= 0:
                break
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=remaining)
            except TimeoutError:
                pass
        for update in ready:
            self.handed_out[update["update_id"]] += 1
        if ready and self.on_hand_out is not None:
            self.on_hand_out([u["update_id"] for u in ready])
        return ready

    def _record(self, message: dict[str, Any], text: str) -> None:
        markup = message.get("reply_markup") or {}
        buttons = [(b["text"], b.get("callback_data", "")) for row in markup.get("inline_keyboard", []) for b in row]
        chat = int(message["chat"]["id"])
        sent = Sent(chat=chat, text=text, buttons=buttons, message_id=int(message["message_id"]),
                    at=time.monotonic())
        self.delivered.append(sent)
        self.by_chat.setdefault(chat, []).append(sent)
        event = self._chat_wake.pop(chat, None)
        if event is not None:
            event.set()

    async def _api_sendMessage(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        message = await super()._api_sendMessage(params, files)
        self._record(message, str(message.get("text", "")))
        return message

    async def _api_sendPhoto(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        message = await super()._api_sendPhoto(params, files)
        self._record(message, str(message.get("caption", "")))
        return message
