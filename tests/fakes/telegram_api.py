"""A fake Telegram Bot API server (aiohttp) for tests and benchmarks.

It speaks enough of the Bot API for python-telegram-bot: getMe, getUpdates (long polling), setWebhook,
deleteWebhook, sendMessage, sendPhoto, answerCallbackQuery, editMessageReplyMarkup, getFile and file
download, setMyCommands, deleteMyCommands, sendChatAction. Every call is recorded. Tests queue updates
(`send_text`, `press`, `send_photo`) and script failures (`fail_next`).

Run on its own: `python -m tests.fakes.telegram_api --port 8081` (port 0: any free port; the first line printed
names it). A driver in another process (benchmarks/) then uses the control API under `/_fake/`:

- `POST /_fake/updates`: queue updates, a JSON list of `{"user": 1001, "text": "/start"}`,
  `{"user": 1001, "data": "next:…"}` (a button press) or whole Telegram updates; answers their update_ids;
- `GET /_fake/calls?since=N[&method=M]`: the recorded calls from index N;
- `GET /_fake/stream` (websocket): every call as it arrives, as JSON lists of events (see `_event`), including
  `first`, the seconds from handing that chat's update out in getUpdates to receiving the first reply to it;
  text frames sent to it queue updates like `POST /_fake/updates`;
- `POST /_fake/limits`: `{"sendMessage": 30}` answers 429 (retry_after 1) to a sendMessage when 30 were accepted
  in the last second, as Telegram throttles bots; `{}` turns that off (the default);
- `GET /_fake/stats`: calls per method, 429s answered, updates handed out, the process's CPU seconds;
- `POST /_fake/reset`: forget calls, counters and limits (between benchmark phases).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import itertools
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_ID = 7_000_000_001
BOT_USERNAME = "hocvuso_test_bot"
INT_FIELDS = {"chat_id", "message_id", "offset", "limit", "timeout", "user_id", "cache_time"}
REPLY_METHODS = frozenset({"sendMessage", "sendPhoto", "sendDocument"})


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    files: dict[str, bytes]
    at: float


@dataclass
class Failure:
    status: int
    description: str
    retry_after: int | None = None
    delay: float = 0.0  # seconds to hang before answering (a timeout)


@dataclass
class FakeTelegram:
    token: str = "123456:TEST-token"
    calls: list[Call] = field(default_factory=list)
    updates: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    files: dict[str, bytes] = field(default_factory=dict)
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    webhook_url: str = ""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    runner: web.AppRunner | None = None
    port: int = 0
    # The control API's state (only out-of-process drivers use it; tests are unaffected).
    limits: dict[str, int] = field(default_factory=dict)  # method → calls accepted per second, else 429
    _accepted: dict[str, collections.deque[float]] = field(default_factory=dict)
    _handed: dict[int, float] = field(default_factory=dict)  # chat id → when its update was handed out
    _streams: set[asyncio.Queue[dict[str, Any]]] = field(default_factory=set)
    counters: collections.Counter[str] = field(default_factory=collections.Counter)

    # ---- server ----------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self._method)
        app.router.add_get("/bot{token}/{method}", self._method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        app.router.add_post("/_fake/updates", self._ctl_updates)
        app.router.add_get("/_fake/calls", self._ctl_calls)
        app.router.add_get("/_fake/stream", self._ctl_stream)
        app.router.add_post("/_fake/limits", self._ctl_limits)
        app.router.add_get("/_fake/stats", self._ctl_stats)
        app.router.add_post("/_fake/reset", self._ctl_reset)
        return app

    async def start(self, port: int = 0) -> str:
        # A long poll whose client went away is cancelled, so it cannot swallow a queued update.
        self.runner = web.AppRunner(self.app(), access_log=None, handler_cancellation=True, shutdown_timeout=1)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", port)
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]
        return self.root

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    # ---- what tests do ---------------------------------------------------------------------------

    def fail_next(self, method: str, *failures: Failure) -> None:
        self.failures.setdefault(method, []).extend(failures)

    def _update(self, **body: Any) -> dict[str, Any]:
        return {"update_id": next(self._ids), **body}

    @staticmethod
    def _user(user_id: int) -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": f"Người {user_id}", "language_code": "vi"}

    def _message(self, user_id: int, **content: Any) -> dict[str, Any]:
        return {"message_id": next(self._ids), "date": int(time.time()), "from": self._user(user_id),
                "chat": {"id": user_id, "type": "private", "first_name": f"Người {user_id}"}, **content}

    def text_update(self, user_id: int, text: str) -> dict[str, Any]:
        entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}] if text.startswith(
            "/") else []
        return self._update(message=self._message(user_id, text=text, entities=entities))

    def callback_update(self, user_id: int, data: str, message_id: int | None = None) -> dict[str, Any]:
        message = {"message_id": message_id or next(self._ids), "date": int(time.time()),
                   "chat": {"id": user_id, "type": "private"}, "text": "…",
                   "from": {"id": BOT_ID, "is_bot": True, "first_name": "Trợ lý số"}}
        return self._update(callback_query={"id": str(next(self._ids)), "from": self._user(user_id),
                                            "chat_instance": str(user_id), "data": data, "message": message})

    def photo_update(self, user_id: int, content: bytes, size: int | None = None) -> dict[str, Any]:
        file_id = f"photo{next(self._ids)}"
        self.files[file_id] = content
        sizes = [{"file_id": f"{file_id}-small", "file_unique_id": f"u{file_id}s", "width": 90, "height": 90,
                  "file_size": 100},
                 {"file_id": file_id, "file_unique_id": f"u{file_id}", "width": 1280, "height": 960,
                  "file_size": size if size is not None else len(content)}]
        self.files[f"{file_id}-small"] = content[:100]
        return self._update(message=self._message(user_id, photo=sizes))

    def sticker_update(self, user_id: int) -> dict[str, Any]:
        sticker = {"file_id": "st1", "file_unique_id": "st1u", "type": "regular", "width": 512, "height": 512,
                   "is_animated": False, "is_video": False}
        return self._update(message=self._message(user_id, sticker=sticker))

    def queue(self, update: dict[str, Any]) -> dict[str, Any]:
        self.updates.put_nowait(update)
        return update

    def sent(self, user_id: int | None = None, methods: tuple[str, ...] = ("sendMessage", "sendPhoto")
             ) -> list[Call]:
        return [c for c in self.calls if c.method in methods
                and (user_id is None or c.params.get("chat_id") == user_id)]

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(self, predicate: Callable[[FakeTelegram], bool], timeout: float = 10.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate(self):
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met; last calls: {[c.method for c in self.calls[-8:]]}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=min(remaining, 0.5))
            except TimeoutError:
                pass

    # ---- the control API (for drivers in another process: benchmarks/) ----------------------------

    def _throttled(self, method: str, at: float) -> bool:
        """Like Telegram: more than `limits[method]` accepted in the last second, and the call gets a 429."""
        limit = self.limits.get(method)
        if limit is None:
            return False
        accepted = self._accepted.setdefault(method, collections.deque())
        while accepted and accepted[0] <= at - 1.0:
            accepted.popleft()
        if len(accepted) >= limit:
            return True
        accepted.append(at)
        return False

    def _publish(self, call: Call, index: int, status: int) -> None:
        if not self._streams:
            return
        event = self._event(call, index, status)
        for queue in self._streams:
            queue.put_nowait(event)

    def _event(self, call: Call, index: int, status: int) -> dict[str, Any]:
        """One call, as streamed: index, method, HTTP status, chat id, time (monotonic seconds, comparable across
        processes on Linux), `first` (for the first reply to a chat since its update was handed out: the
        seconds in between), the text and the callback data of the inline buttons."""
        chat = call.params.get("chat_id")
        event: dict[str, Any] = {"i": index, "m": call.method, "s": status, "chat": chat, "at": call.at}
        if call.method in REPLY_METHODS and status == 200 and isinstance(chat, int):
            handed = self._handed.pop(chat, None)
            event["first"] = None if handed is None else call.at - handed
            event["text"] = str(call.params.get("text") or call.params.get("caption") or "")[:300]
            markup = call.params.get("reply_markup")
            rows = markup.get("inline_keyboard", []) if isinstance(markup, dict) else []
            event["kb"] = [b.get("callback_data") for row in rows for b in row if isinstance(b, dict)]
        return event

    def _queue_specs(self, specs: Any) -> list[int]:
        if not isinstance(specs, list):
            raise web.HTTPBadRequest(text="a JSON list of updates")
        ids = []
        for spec in specs:
            if not isinstance(spec, dict):
                raise web.HTTPBadRequest(text="each update is a JSON object")
            if "update_id" in spec:
                update = spec
            elif "data" in spec:
                update = self.callback_update(int(spec["user"]), str(spec["data"]))
            else:
                update = self.text_update(int(spec["user"]), str(spec.get("text", "")))
            self.queue(update)
            ids.append(int(update["update_id"]))
        self.counters["queued"] += len(ids)
        return ids

    async def _ctl_updates(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "result": self._queue_specs(await request.json())})

    async def _ctl_calls(self, request: web.Request) -> web.Response:
        since = int(request.query.get("since", "0"))
        method = request.query.get("method")
        calls = [{"i": i, "method": c.method, "params": c.params, "at": c.at,
                  "files": {name: len(data) for name, data in c.files.items()}}
                 for i, c in enumerate(self.calls[since:], since) if method is None or c.method == method]
        return web.json_response({"ok": True, "result": calls, "next": len(self.calls)})

    async def _ctl_stream(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(max_msg_size=64 * 1024 * 1024)
        await socket.prepare(request)
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._streams.add(queue)

        async def forward() -> None:
            while True:
                events = [await queue.get()]
                while not queue.empty():
                    events.append(queue.get_nowait())
                await socket.send_str(json.dumps(events))

        writer = asyncio.create_task(forward())
        try:
            async for message in socket:
                if message.type == web.WSMsgType.TEXT:
                    self._queue_specs(json.loads(message.data))
        finally:
            self._streams.discard(queue)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return socket

    async def _ctl_limits(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.limits = {str(method): int(per_second) for method, per_second in dict(body).items()}
        self._accepted.clear()
        return web.json_response({"ok": True, "result": self.limits})

    async def _ctl_stats(self, request: web.Request) -> web.Response:
        methods = collections.Counter(c.method for c in self.calls)
        times = os.times()
        return web.json_response({"ok": True, "result": {
            "calls": len(self.calls), "methods": dict(methods), "throttled": self.counters["429"],
            "queued": self.counters["queued"], "handed": self.counters["handed"], "waiting": self.updates.qsize(),
            "cpu_seconds": times.user + times.system}})

    async def _ctl_reset(self, request: web.Request) -> web.Response:
        self.calls.clear()
        self.counters.clear()
        self.limits.clear()
        self._accepted.clear()
        self._handed.clear()
        return web.json_response({"ok": True, "result": True})

    # ---- the API ---------------------------------------------------------------------------------

    async def _params(self, request: web.Request) -> tuple[dict[str, Any], dict[str, bytes]]:
        params: dict[str, Any] = {}
        files: dict[str, bytes] = {}
        if request.content_type == "application/json":
            body = await request.json()
            params = dict(body) if isinstance(body, dict) else {}
        elif request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                if not hasattr(part, "filename"):
                    continue
                if part.filename:  # type: ignore[union-attr]
                    files[part.name or ""] = bytes(await part.read())  # type: ignore[union-attr]
                else:
                    params[part.name or ""] = await part.text()  # type: ignore[union-attr]
        else:
            params = dict(await request.post())  # type: ignore[arg-type]
            params.update(request.query)
        return {key: self._decode(key, value) for key, value in params.items()}, files

    @staticmethod
    def _decode(key: str, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if key in INT_FIELDS:
            try:
                return int(value)
            except ValueError:
                return value
        if value[:1] in "[{" or value in ("true", "false"):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value

    async def _method(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params, files = await self._params(request)
        call = Call(method, params, files, time.monotonic())
        self.calls.append(call)
        self._changed.set()
        if self.limits or self._streams:
            throttled = self._throttled(method, call.at)
            self._publish(call, len(self.calls) - 1, 429 if throttled else 200)
            if throttled:
                self.counters["429"] += 1
                return web.json_response({"ok": False, "error_code": 429,
                                          "description": "Too Many Requests: retry after 1",
                                          "parameters": {"retry_after": 1}}, status=429)
        scripted = self.failures.get(method)
        if scripted:
            failure = scripted.pop(0)
            if failure.delay:
                await asyncio.sleep(failure.delay)
            body: dict[str, Any] = {"ok": False, "error_code": failure.status, "description": failure.description}
            if failure.retry_after is not None:
                body["parameters"] = {"retry_after": failure.retry_after}
            return web.json_response(body, status=failure.status)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return web.json_response({"ok": True, "result": True})
        result = await handler(params, files)
        return web.json_response({"ok": True, "result": result})

    async def _api_getMe(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        return {"id": BOT_ID, "is_bot": True, "first_name": "Trợ lý số", "username": BOT_USERNAME,
                "can_join_groups": False, "can_read_all_group_messages": False, "supports_inline_queries": False}

    async def _api_getUpdates(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        if self.webhook_url:
            return []
        timeout = float(params.get("timeout") or 0)
        batch: list[dict[str, Any]] = []
        try:
            batch.append(await asyncio.wait_for(self.updates.get(), timeout=max(timeout, 0.01)))
        except TimeoutError:
            return []
        while not self.updates.empty() and len(batch) < int(params.get("limit") or 100):
            batch.append(self.updates.get_nowait())
        if self._streams:
            now = time.monotonic()
            for update in batch:
                chat = _chat_of(update)
                if chat is not None:
                    self._handed[chat] = now
            self.counters["handed"] += len(batch)
        return batch

    async def _api_setWebhook(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        self.webhook_url = str(params.get("url") or "")
        return True

    async def _api_deleteWebhook(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        self.webhook_url = ""
        return True

    def _sent_message(self, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        chat_id = params.get("chat_id")
        message: dict[str, Any] = {
            "message_id": next(self._ids), "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Trợ lý số"}, **content}
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        return message

    async def _api_sendMessage(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        text = str(params.get("text", ""))
        if not text or len(text) > 4096:
            raise web.HTTPBadRequest(text=json.dumps({"ok": False, "error_code": 400,
                                                      "description": "Bad Request: message is too long"}),
                                     content_type="application/json")
        return self._sent_message(params, text=text)

    async def _api_sendPhoto(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        photo = files.get("photo")
        size = len(photo or b"")
        return self._sent_message(params, caption=params.get("caption", ""), photo=[
            {"file_id": f"sent{next(self._ids)}", "file_unique_id": "x", "width": 100, "height": 100,
             "file_size": size}])

    async def _api_editMessageReplyMarkup(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        return self._sent_message(params, text="…")

    async def _api_getFile(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        file_id = str(params.get("file_id"))
        if file_id not in self.files:
            raise web.HTTPBadRequest(text=json.dumps({"ok": False, "error_code": 400,
                                                      "description": "Bad Request: invalid file_id"}),
                                     content_type="application/json")
        return {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": len(self.files[file_id]),
                "file_path": f"photos/{file_id}.jpg"}

    async def _file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        name = request.match_info["path"].rsplit("/", 1)[-1].removesuffix(".jpg")
        if name not in self.files:
            return web.Response(status=404)
        return web.Response(body=self.files[name], content_type="image/jpeg")


def _chat_of(update: dict[str, Any]) -> int | None:
    """The private chat an update comes from (a message's chat, a button's presser)."""
    message = update.get("message")
    if isinstance(message, dict):
        return int(message["chat"]["id"])
    query = update.get("callback_query")
    if isinstance(query, dict):
        return int(query["from"]["id"])
    return None


async def _main(port: int, token: str) -> None:
    fake = FakeTelegram(token=token)
    root = await fake.start(port)
    print(f"fake Telegram Bot API on {root} (token {token})", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default="123456:TEST-token")
    arguments = parser.parse_args()
    asyncio.run(_main(arguments.port, arguments.token))
