"""Web chat: one page and a small JSON API on the bot's aiohttp server; a browser session is a person.

The person is `web:<id>` from an HttpOnly, SameSite=Strict cookie. Replies land in a short in-memory
mailbox per person; the page gets them in the answer to its POST, or by long-polling GET /api/messages.
"""

from __future__ import annotations

import asyncio
import base64
import json
import pathlib
import re
import secrets
import uuid
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.channels.base import Busy
from bot.channels.markup import to_html
from bot.messages import Inbound, InboundKind, Reply

COOKIE = "hocvuso_id"
_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
STATIC = pathlib.Path(__file__).with_name("static")
MAILBOX_SIZE = 50
MAX_MAILBOXES = 10_000
MAX_TEXT = 4000
MAX_BODY = 64 * 1024
LONG_POLL_SECONDS = 25.0

Handle = Callable[[Inbound], Awaitable[bool]]


class _Mailbox:
    """The latest replies for one person. `epoch` changes when the mailbox is new (a restart), so a page
    holding sequence numbers from before knows to start counting again."""

    def __init__(self) -> None:
        self.items: deque[dict[str, Any]] = deque(maxlen=MAILBOX_SIZE)
        self.seq = 0
        self.epoch = secrets.token_hex(4)
        self.changed = asyncio.Event()

    def add(self, message: dict[str, Any]) -> None:
        self.seq += 1
        self.items.append({"seq": self.seq, **message})
        self.changed.set()
        self.changed = asyncio.Event()

    def after(self, seq: int) -> list[dict[str, Any]]:
        return [item for item in self.items if item["seq"] > seq]

    def since(self, epoch: Any, seq: int) -> int:
        """The page's "after" if it belongs to this mailbox, else 0 (everything is new to the page).
        A client that sends no epoch means this mailbox."""
        if epoch is None:
            return min(seq, self.seq)
        return seq if epoch == self.epoch and seq <= self.seq else 0

    def wake(self) -> None:
        self.changed.set()

    def answer(self, after: int) -> dict[str, Any]:
        return {"messages": self.after(after), "last": self.seq, "epoch": self.epoch}


class WebChannel:
    name = "web"

    def __init__(self) -> None:
        self._boxes: OrderedDict[str, _Mailbox] = OrderedDict()
        self._handle: Handle | None = None

    def bind(self, handle: Handle) -> None:
        self._handle = handle

    def _box(self, person: str) -> _Mailbox:
        box = self._boxes.get(person)
        if box is None:
            box = self._boxes[person] = _Mailbox()
            while len(self._boxes) > MAX_MAILBOXES:
                self._boxes.popitem(last=False)
        self._boxes.move_to_end(person)
        return box

    async def send(self, person: str, reply: Reply) -> None:
        self._box(person).add(render(reply))

    # ---- HTTP ------------------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/", self.page)
        app.router.add_get("/api/messages", self.messages)
        app.router.add_post("/api/send", self.post)
        app.on_shutdown.append(self._wake_pollers)

    async def _wake_pollers(self, app: web.Application) -> None:
        """Let long-polls answer now, so shutting down does not wait out their timeout."""
        for box in self._boxes.values():
            box.wake()

    async def page(self, request: web.Request) -> web.StreamResponse:
        response = web.FileResponse(STATIC / "index.html", headers={
            "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                                       "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'"})
        _ensure_cookie(request, response)
        return response

    async def messages(self, request: web.Request) -> web.Response:
        person, fresh = _person(request)
        wait = min(float(_int(request.query.get("wait"), 0)), LONG_POLL_SECONDS)
        box = self._box(person)
        after = box.since(request.query.get("epoch"), _int(request.query.get("after"), 0))
        if wait > 0 and not box.after(after):
            try:
                await asyncio.wait_for(box.changed.wait(), timeout=wait)
            except TimeoutError:
                pass
        return _json(request, box.answer(after), fresh)

    async def post(self, request: web.Request) -> web.Response:
        if not _same_origin(request):
            return _error(403, "cross-site request refused")
        if request.content_type != "application/json":
            return _error(415, "send JSON")
        if (request.content_length or 0) > MAX_BODY:
            return _error(413, "message too large")
        raw = await request.read()  # bounded by the server's client_max_size; a streamed body has no length
        if len(raw) > MAX_BODY:
            return _error(413, "message too large")
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return _error(400, "body is not JSON")
        if not isinstance(body, dict):
            return _error(400, "body must be a JSON object")
        person, fresh = _person(request)
        inbound = _inbound(person, body)
        if inbound is None:
            return _error(400, "send text, choice or command")
        box = self._box(person)
        before = box.since(body.get("epoch"), _int(body.get("after"), box.seq))
        assert self._handle is not None, "web channel not bound to an engine"
        try:
            await self._handle(inbound)
        except Busy:  # nothing was written: the page sends it again when asked to
            return _error(503, "busy")
        return _json(request, box.answer(before), fresh)


def render(reply: Reply) -> dict[str, Any]:
    return {
        "html": to_html(reply.text),
        "choices": [[{"label": c.label, "payload": c.payload} for c in row] for row in reply.choices],
        "image": ("data:image/png;base64," + base64.b64encode(reply.image).decode()) if reply.image else None,
        "document": ({"name": reply.document_name or "tai-lieu.pdf",
                      "url": "data:application/pdf;base64," + base64.b64encode(reply.document).decode()}
                     if reply.document else None),
    }


def _inbound(person: str, body: dict[str, Any]) -> Inbound | None:
    client_id = body.get("id")
    key_part = client_id if isinstance(client_id, str) and 0 < len(client_id) <= 64 else uuid.uuid4().hex
    key = f"{person}:{key_part}"
    choice, text = body.get("choice"), body.get("text")
    if isinstance(choice, str) and 0 < len(choice.encode()) <= 64:
        return Inbound(person=person, kind=InboundKind.CHOICE, key=key, payload=choice)
    if isinstance(text, str) and text.strip():
        return Inbound.from_text(person, text[:MAX_TEXT], key)
    return None


def _person(request: web.Request) -> tuple[str, str | None]:
    current = request.cookies.get(COOKIE, "")
    if _ID.match(current):
        return f"web:{current}", None
    fresh = secrets.token_urlsafe(24)
    return f"web:{fresh}", fresh


def _ensure_cookie(request: web.Request, response: web.StreamResponse) -> None:
    if not _ID.match(request.cookies.get(COOKIE, "")):
        _set_cookie(response, secrets.token_urlsafe(24), secure=request.secure)


def _set_cookie(response: web.StreamResponse, value: str, *, secure: bool) -> None:
    response.set_cookie(COOKIE, value, max_age=365 * 24 * 3600, httponly=True, samesite="Strict",
                        secure=secure, path="/")


def _same_origin(request: web.Request) -> bool:
    """Cross-site posts are refused: the browser's Sec-Fetch-Site and Origin must say this same site."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    return origin in (f"{request.scheme}://{request.host}", f"https://{request.host}")


def _json(request: web.Request, data: dict[str, Any], fresh_cookie: str | None) -> web.Response:
    response = web.json_response(data, headers={"Cache-Control": "no-store"}, dumps=_dumps)
    if fresh_cookie is not None:
        _set_cookie(response, fresh_cookie, secure=request.secure)
    return response


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _int(value: Any, default: int) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return default
