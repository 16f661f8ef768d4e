"""A fake Zalo Bot Platform API server (aiohttp) for tests and benchmarks.

It answers `POST|GET /bot<token>/<method>` with `{ok, result}` or `{ok: false, error_code, description}`:
getMe, getUpdates (long poll: ONE update per call, error 408 when nothing came in time, refused while a
webhook is set), setWebhook (secret_token 8–256), deleteWebhook, getWebhookInfo, sendMessage (text ≤ 2000,
like the real one), sendPhoto (an http(s) URL), sendChatAction, sendSticker. Every call is recorded with
its JSON body, time and the status answered. Tests queue updates (`queue(fake.text(...))`), script
failures (`fail_next("sendMessage", Failure(429, retry_after=1), times=2)`, a `hang` past the client's
timeout, `after=1` to let one call through first), and serve files for `photo_url` downloads (`add_file`).

Run on its own: `python -m tests.fakes.zalo_api --port 8082`. Then `POST /_fake/updates` (one update or a
list) queues updates and `GET /_fake/calls` lists what the bot called, for benchmarks.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "1234567890:fake-zalo-token"
BOT_ID = "bot-000111"
TEXT_LIMIT = 2000
POLL_CAP = 60.0


@dataclass
class Call:
    method: str
    body: dict[str, Any]
    at: float  # time.monotonic() when it arrived
    status: int = 0  # what the fake answered (0 while it hangs)

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class Failure:
    status: int  # HTTP status and error_code
    description: str = ""
    retry_after: float | None = None
    hang: float = 0.0  # seconds to wait before answering (past the client's timeout, it never sees it)
    after: int = 0  # calls to let through before this failure applies


@dataclass
class FakeZalo:
    token: str = TOKEN
    calls: list[Call] = field(default_factory=list)
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    files: dict[str, tuple[bytes, bool]] = field(default_factory=dict)
    webhook_url: str = ""
    webhook_secret: str = ""
    port: int = 0
    _pending: collections.deque[dict[str, Any]] = field(default_factory=collections.deque)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _closing: asyncio.Event = field(default_factory=asyncio.Event)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None

    # ---- server ----------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._method)
        app.router.add_get("/files/{name}", self._file)
        app.router.add_post("/_fake/updates", self._queue_over_http)
        app.router.add_get("/_fake/calls", self._calls_over_http)
        return app

    async def start(self, port: int = 0) -> str:
        self._runner = web.AppRunner(self.app(), access_log=None, handler_cancellation=True, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]
        return self.root

    async def stop(self) -> None:
        self._closing.set()
        self._arrived.set()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ---- what tests do ---------------------------------------------------------------------------

    def fail_next(self, method: str, failure: Failure, times: int = 1) -> None:
        self.failures.setdefault(method, []).extend(dataclasses.replace(failure) for _ in range(times))

    def message_id(self) -> str:
        return f"m{next(self._ids):06d}"

    def update(self, user: str, event: str, message_id: str | None = None, **content: Any) -> dict[str, Any]:
        message = {"message_id": message_id or self.message_id(), "date": int(time.time() * 1000),
                   "from": {"id": user, "display_name": f"Người {user}", "is_bot": False},
                   "chat": {"id": user, "chat_type": "PRIVATE"}, **content}
        return {"event_name": event, "message": message}

    def text(self, user: str, text: str, message_id: str | None = None) -> dict[str, Any]:
        return self.update(user, "message.text.received", message_id, text=text)

    def image(self, user: str, photo_url: str, caption: str = "") -> dict[str, Any]:
        return self.update(user, "message.image.received", photo_url=photo_url, caption=caption)

    def sticker(self, user: str) -> dict[str, Any]:
        return self.update(user, "message.sticker.received", sticker="st-0001", url=f"{self.root}/files/st.webp")

    def queue(self, *updates: dict[str, Any]) -> None:
        self._pending.extend(updates)
        self._arrived.set()

    def add_file(self, name: str, data: bytes, *, chunked: bool = False) -> str:
        """Serve `data` at /files/<name>; `chunked`: without a Content-Length (the reader must count)."""
        self.files[name] = (data, chunked)
        return f"{self.root}/files/{name}"

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def delivered(self, user: str | None = None) -> list[Call]:
        """sendMessage/sendPhoto calls that succeeded, in order (to one user, if given)."""
        return [call for call in self.calls if call.ok and call.method in ("sendMessage", "sendPhoto")
                and (user is None or call.body.get("chat_id") == user)]

    def texts(self, user: str | None = None) -> list[str]:
        return [str(call.body.get("text") or call.body.get("caption") or "") for call in self.delivered(user)]

    async def wait_for(self, predicate: Callable[[FakeZalo], bool], timeout: float = 10.0) -> None:
        """Until `predicate(fake)` holds (checked whenever a call is answered); TimeoutError after `timeout`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate(self):
            remaining = deadline - loop.time()
            if remaining <= 0:
                recent = [(c.method, c.status, str(c.body.get("text", ""))[:60]) for c in self.calls[-6:]]
                raise TimeoutError(f"condition not met in {timeout} s; last calls: {recent}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=min(remaining, 0.25))
            except TimeoutError:
                pass

    # ---- the API ---------------------------------------------------------------------------------

    @staticmethod
    def _answer(status: int, result: Any = None, description: str = "", **extra: Any) -> web.Response:
        if status == 200:
            return web.json_response({"ok": True, "result": result})
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description, **extra}
        headers = {"Retry-After": str(extra["parameters"]["retry_after"])} if "parameters" in extra else None
        return web.json_response(body, status=status, headers=headers)

    async def _method(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._answer(401, description="Unauthorized")
        method = request.match_info["method"]
        try:
            body = await request.json() if request.can_read_body else {}
        except ValueError:
            body = None
        call = Call(method, body if isinstance(body, dict) else {}, time.monotonic())
        self.calls.append(call)
        try:
            response = await self._respond(call, request, body)
        except asyncio.CancelledError:
            call.status = -1  # the client went away
            raise
        call.status = response.status
        self._changed.set()
        return response

    async def _respond(self, call: Call, request: web.Request, body: Any) -> web.Response:
        if not isinstance(body, dict):
            return self._answer(400, description="Bad Request: body must be a JSON object")
        scripted = self.failures.get(call.method)
        if scripted and scripted[0].after > 0:
            scripted[0].after -= 1
        elif scripted:
            failure = scripted.pop(0)
            if failure.hang:
                await self._sleep(failure.hang)
            extra = {"parameters": {"retry_after": failure.retry_after}} if failure.retry_after is not None else {}
            return self._answer(failure.status, description=failure.description or "Scripted failure", **extra)
        handler = getattr(self, f"_api_{call.method}", None)
        if handler is None:
            return self._answer(404, description="Not Found: no such method")
        answer: web.Response = await handler(body, request)
        return answer

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._closing.wait(), timeout=seconds)
        except TimeoutError:
            pass

    async def _api_getMe(self, body: dict[str, Any], request: web.Request) -> web.Response:
        return self._answer(200, {"id": BOT_ID, "account_name": "bot.hocvuso", "account_type": "BASIC",
                                  "can_join_groups": False, "display_name": "Trợ lý số"})

    async def _api_getUpdates(self, body: dict[str, Any], request: web.Request) -> web.Response:
        if self.webhook_url:
            return self._answer(400, description="Bad Request: getUpdates is unavailable while a webhook is set")
        try:
            wait = min(max(float(body.get("timeout") or 0), 0.0), POLL_CAP)
        except (TypeError, ValueError):
            wait = 0.0
        deadline = time.monotonic() + wait
        while not self._pending and not self._closing.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), timeout=min(remaining, 0.25))
            except TimeoutError:
                pass
        if not self._pending or request.transport is None or request.transport.is_closing():
            return self._answer(408, description="Request timeout")
        return self._answer(200, self._pending.popleft())

    async def _api_setWebhook(self, body: dict[str, Any], request: web.Request) -> web.Response:
        url, secret = body.get("url"), body.get("secret_token")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            return self._answer(400, description="Bad Request: url must be an https URL")
        if not isinstance(secret, str) or not 8 <= len(secret) <= 256:
            return self._answer(400, description="Bad Request: secret_token must be 8-256 characters")
        self.webhook_url, self.webhook_secret = url, secret
        return self._answer(200, {"url": url, "updated_at": int(time.time() * 1000)})

    async def _api_deleteWebhook(self, body: dict[str, Any], request: web.Request) -> web.Response:
        self.webhook_url = self.webhook_secret = ""
        return self._answer(200, {"url": "", "updated_at": int(time.time() * 1000)})

    async def _api_getWebhookInfo(self, body: dict[str, Any], request: web.Request) -> web.Response:
        return self._answer(200, {"url": self.webhook_url, "updated_at": int(time.time() * 1000)})

    def _chat(self, body: dict[str, Any]) -> str | None:
        chat_id = body.get("chat_id")
        return chat_id if isinstance(chat_id, str) and chat_id else None

    def _sent(self, body: dict[str, Any]) -> web.Response:
        return self._answer(200, {"message_id": self.message_id(), "date": int(time.time() * 1000)})

    async def _api_sendMessage(self, body: dict[str, Any], request: web.Request) -> web.Response:
        text = body.get("text")
        if self._chat(body) is None or not isinstance(text, str) or not text.strip():
            return self._answer(400, description="Bad Request: chat_id and text are required")
        if len(text) > TEXT_LIMIT:
            return self._answer(400, description=f"Bad Request: text must be at most {TEXT_LIMIT} characters")
        return self._sent(body)

    async def _api_sendPhoto(self, body: dict[str, Any], request: web.Request) -> web.Response:
        photo, caption = body.get("photo"), body.get("caption", "")
        if self._chat(body) is None or not isinstance(photo, str) or not photo.startswith(("https://", "http://")):
            return self._answer(400, description="Bad Request: photo must be an image URL")
        if not isinstance(caption, str) or len(caption) > TEXT_LIMIT:
            return self._answer(400, description="Bad Request: caption too long")
        return self._sent(body)

    async def _api_sendSticker(self, body: dict[str, Any], request: web.Request) -> web.Response:
        if self._chat(body) is None or not body.get("sticker"):
            return self._answer(400, description="Bad Request: chat_id and sticker are required")
        return self._sent(body)

    async def _api_sendChatAction(self, body: dict[str, Any], request: web.Request) -> web.Response:
        if self._chat(body) is None or body.get("action") not in ("typing", "upload_photo"):
            return self._answer(400, description="Bad Request: unknown action")
        return self._answer(200, True)

    # ---- files and the control API ---------------------------------------------------------------

    async def _file(self, request: web.Request) -> web.StreamResponse:
        found = self.files.get(request.match_info["name"])
        if found is None:
            return web.Response(status=404)
        data, chunked = found
        if not chunked:
            return web.Response(body=data, content_type="image/jpeg")
        response = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(data), 64 * 1024):
            await response.write(data[start:start + 64 * 1024])
        await response.write_eof()
        return response

    async def _queue_over_http(self, request: web.Request) -> web.Response:
        body = await request.json()
        updates = body if isinstance(body, list) else [body]
        self.queue(*[update for update in updates if isinstance(update, dict)])
        return web.json_response({"ok": True, "queued": len(self._pending)})

    async def _calls_over_http(self, request: web.Request) -> web.Response:
        return web.json_response([{"method": c.method, "body": c.body, "at": c.at, "status": c.status}
                                  for c in self.calls])


async def _main(port: int, token: str) -> None:
    fake = FakeZalo(token=token)
    root = await fake.start(port)
    print(f"fake Zalo Bot API on {root} (token {token})", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--token", default=TOKEN)
    arguments = parser.parse_args()
    asyncio.run(_main(arguments.port, arguments.token))
