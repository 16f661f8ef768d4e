"""Zalo through the Zalo Bot Platform API (bot/channels/zalo_api.py): long polling, or a webhook on the bot's
own aiohttp server at /zalo/webhook when HOCVUSO_PUBLIC_URL is set.

Zalo has no buttons: a reply's choices become a numbered line ("Gõ 1 để Tiếp tục · 2 để Nhắc lại"); the
engine maps a typed number or label back to the choice from the person's saved state. Texts are split at
2000 characters. Images go out as URLs the bot serves itself (bot/media/served.py). Failures become
DeliveryError, so the engine's outbox retries with backoff (429 honours retry_after) or stops messaging
someone Zalo refuses (403).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import io
import json
import logging
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Coroutine
from typing import Any

from aiohttp import web
from PIL import Image

from bot.channels.base import Busy, ChannelEnv, DeliveryError
from bot.channels.markup import to_plain
from bot.channels.split import split_text
from bot.channels.zalo_api import TEXT_LIMIT, DownloadError, Message, ZaloApi, ZaloError, parse, unwrap
from bot.media import served
from bot.messages import Inbound, InboundKind, Reply
from bot.settings import ConfigError

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/zalo/webhook"
SECRET_HEADER = "X-Bot-Api-Secret-Token"
MAX_BODY = 256 * 1024
BUSY_PAUSE = 5.0  # seconds between tries of a polled update while the database is busy
MAX_TEXT = 4000
BACKOFF_MAX = 60.0
NO_IMAGE = "(Hình minh họa chưa gửi được qua Zalo.)"
TEXT_EVENTS = {"message.text.received"}
IMAGE_EVENTS = {"message.image.received"}
PARTIAL_KEEP = 3600.0  # seconds an interrupted multi-part reply remembers what already went out
_INVISIBLE = {"\u200d", "\ufe0e", "\ufe0f", "\u20e3"}
_FINAL = {400, 404, 405, 413, 415, 422}  # answers that retrying the same call cannot change


class ZaloChannel:
    name = "zalo"

    def __init__(self, env: ChannelEnv) -> None:
        settings = env.settings
        if settings.zalo_token is None or not settings.zalo_token.get_secret_value().strip():
            raise ConfigError("HOCVUSO_ZALO_TOKEN is not set")
        self._env = env
        self._public = settings.public_url
        self._webhook = bool(self._public)
        if self._webhook:
            secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
            if not 8 <= len(secret) <= 256 or not secret.isascii() or not secret.isprintable():
                raise ConfigError("HOCVUSO_WEBHOOK_SECRET must be set to 8–256 ASCII characters when "
                                  "HOCVUSO_PUBLIC_URL is set (Zalo webhook mode)")
        self.api = ZaloApi(settings.zalo_api_url, settings.zalo_token)
        self._bot_id = ""
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._sending = 0
        self._idle = asyncio.Event()
        self._idle.set()
        # reply fingerprint → (messages of it already delivered, when): a retry resumes instead of repeating
        self._partial: OrderedDict[str, tuple[int, float]] = OrderedDict()

    # ---- lifecycle -------------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        if self._webhook:
            app.router.add_post(WEBHOOK_PATH, self.webhook)
        if self._public:
            served.register(app, self._env.sessions)

    async def start(self) -> None:
        self._stopping.clear()
        if not self._public:
            log.info("zalo: HOCVUSO_PUBLIC_URL is not set, so images are sent as text (with a note)")
        elif not self._public.startswith("https://"):
            log.warning("zalo: HOCVUSO_PUBLIC_URL is not https; Zalo reaches webhooks and images only over https")
        await self._check_token()
        if not self._webhook:
            self._spawn(self._poll())
            log.info("zalo: polling")
        elif not await self._set_webhook(first=True):
            self._spawn(self._keep_setting_webhook())

    async def stop(self) -> None:
        self._stopping.set()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        try:
            await asyncio.wait_for(self._idle.wait(), timeout=20)  # replies being sent right now
        except TimeoutError:
            log.warning("zalo: stopped while a reply was still being sent")
        await self.api.close()

    async def _check_token(self) -> None:
        try:
            me = await self.api.get_me()
        except ZaloError as exc:
            if exc.code in (401, 403, 404):
                raise ConfigError(f"Zalo refused HOCVUSO_ZALO_TOKEN ({exc}). Copy the token again from "
                                  "Zalo Bot Manager, or check HOCVUSO_ZALO_API_URL.") from None
            log.warning("%s; carrying on, calls are retried", exc)
            return
        self._bot_id = str(me.get("id") or "")

    async def _set_webhook(self, *, first: bool = False) -> bool:
        secret = self._env.settings.webhook_secret
        assert secret is not None
        try:
            await self.api.set_webhook(f"{self._public}{WEBHOOK_PATH}", secret)
        except ZaloError as exc:
            if first and exc.code in _FINAL | {401, 403}:
                raise ConfigError(f"Zalo refused the webhook ({exc}). HOCVUSO_PUBLIC_URL must be the bot's "
                                  "public https address.") from None
            log.warning("%s; trying again", exc)
            return False
        log.info("zalo: webhook set")
        return True

    async def _keep_setting_webhook(self) -> None:
        delay = 1.0
        while not await self._pause(delay) and not await self._set_webhook():
            delay = min(delay * 2, BACKOFF_MAX)

    async def _pause(self, seconds: float) -> bool:
        """Sleep unless stopping; True when stopping."""
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            return False
        return True

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- inbound ---------------------------------------------------------------------------------

    async def _poll(self) -> None:
        """getUpdates forever: one update per call; back off (bounded) on errors; never die."""
        delay, cleared = 0.0, False
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            began = loop.time()
            try:
                if not cleared:
                    await self.api.delete_webhook()  # getUpdates does not work while a webhook is set
                    cleared = True
                updates = await self.api.get_updates()
            except Exception as exc:  # ZaloError, or a bug: either way the loop goes on, slower
                if isinstance(exc, ZaloError) and not cleared and exc.code and exc.code < 500 and exc.code != 429:
                    cleared = exc.code != 401  # e.g. "no webhook to delete"
                delay = min(max(1.0, delay * 2), BACKOFF_MAX)
                log.warning("%s; polling again in %.0f s", exc if isinstance(exc, ZaloError) else
                            f"zalo: polling failed ({type(exc).__name__})", delay)
                if await self._pause(delay):
                    return
                continue
            delay = 0.0
            for update in updates:
                await self._receive(update)
            if not updates and loop.time() - began < 1.0 and await self._pause(1.0):
                return  # a server answering "nothing" at once must not make us spin

    async def _receive(self, update: dict[str, Any]) -> None:
        try:
            message = parse(update)
            if message is None or not self._ours(message):
                log.debug("zalo: skipped an update (%.60r) with no private sender", update.get("event_name"))
                return
            inbound = await self._inbound(message)
            while True:  # Zalo will not send a fetched update again: hold on to it (and fetch no more) until handled
                try:
                    await self._env.handle(inbound)
                    return
                except Busy:
                    log.warning("zalo: the database is busy; the update is kept and tried again")
                    await asyncio.sleep(BUSY_PAUSE)
        except Exception:
            log.exception("zalo: an update could not be handled")

    async def webhook(self, request: web.Request) -> web.Response:
        secret = self._env.settings.webhook_secret
        given = request.headers.get(SECRET_HEADER, "")
        if secret is None or not hmac.compare_digest(given.encode(), secret.get_secret_value().encode()):
            return web.json_response({"ok": False, "error": "unauthorized"}, status=401)
        try:
            if (request.content_length or 0) > MAX_BODY:
                raise web.HTTPRequestEntityTooLarge(MAX_BODY, request.content_length or 0)
            raw = await request.read()  # the server's client_max_size bounds a body sent without a length
            if len(raw) > MAX_BODY:
                raise web.HTTPRequestEntityTooLarge(MAX_BODY, len(raw))
            update = unwrap(json.loads(raw))
        except web.HTTPRequestEntityTooLarge:
            return web.json_response({"ok": False, "error": "too large"}, status=413)
        except (ValueError, UnicodeDecodeError):
            update = None
        if update is None:
            return web.json_response({"ok": False, "error": "not a Zalo update"}, status=400)
        message = parse(update)
        if message is None or not self._ours(message):
            return web.json_response({"ok": True})
        try:
            await self._env.handle(await self._inbound(message))  # returns once committed
        except Exception:
            log.exception("zalo: a webhook update could not be handled")
            return web.json_response({"ok": False, "error": "try again"}, status=503)
        return web.json_response({"ok": True})

    def _ours(self, message: Message) -> bool:
        """A private message from a person (not a group, not a bot, not our own echo)."""
        return message.private and not message.from_bot and message.sender != self._bot_id

    async def _inbound(self, message: Message) -> Inbound:
        person = f"zalo:{message.sender}"
        key = f"zalo:{message.message_id}" if message.message_id else f"zalo:update:{message.digest}"
        extra: dict[str, Any] = {"name_hint": message.name}
        if message.event in IMAGE_EVENTS or (not message.event and message.photo_url):
            problem, data = "photo_unreadable", None
            if message.photo_url:
                try:
                    data = await self.api.download(message.photo_url, self._env.settings.max_photo_bytes)
                    problem = "" if await asyncio.to_thread(_is_image, data) else "photo_unreadable"
                    data = data if not problem else None
                except DownloadError as exc:
                    problem = "photo_too_large" if exc.too_large else "photo_unreadable"
                    log.info("zalo: an incoming photo was not taken (%s)", exc)
            return Inbound(person=person, kind=InboundKind.PHOTO, key=key, photo=data, problem=problem,
                           text=unicodedata.normalize("NFC", message.text[:MAX_TEXT]), **extra)
        if (message.event in TEXT_EVENTS or not message.event) and message.text.strip():
            return Inbound.from_text(person, message.text[:MAX_TEXT], key, **extra)
        return Inbound(person=person, kind=InboundKind.OTHER, key=key, **extra)  # sticker, unsupported, unknown

    # ---- outbound --------------------------------------------------------------------------------

    async def send(self, person: str, reply: Reply) -> None:
        if self._stopping.is_set():
            raise DeliveryError("zalo: channel stopped")  # stays in the outbox; sent after the restart
        chat_id = person.split(":", 1)[1]
        if reply.document is not None:
            reply = await self._document_as_link(reply)
        with_photo = reply.image is not None and bool(self._public)
        steps: list[str | None] = [None] if with_photo else []  # None: the photo
        steps += render(reply, image_note=reply.image is not None and not self._public)
        fingerprint = hashlib.sha256(f"{person}\n{reply.model_dump_json()}".encode()).hexdigest()
        index = self._resume(fingerprint)
        self._sending += 1
        self._idle.clear()
        try:
            while index < len(steps):
                step = steps[index]
                if step is None:
                    if not await self._send_photo(chat_id, reply):  # refused: send the text alternative
                        steps[index + 1:] = render(reply, image_note=True)
                else:
                    await self.api.send_message(chat_id, step)
                index += 1
        except ZaloError as exc:
            raise _delivery_error(exc) from None
        finally:
            if 0 < index < len(steps):
                self._remember(fingerprint, index)
            self._sending -= 1
            if not self._sending:
                self._idle.set()

    async def _document_as_link(self, reply: Reply) -> Reply:
        """Zalo's bot API sends no files: a PDF or a report becomes an expiring download link."""
        assert reply.document is not None
        hours = self._env.settings.media_ttl_hours
        if not self._public:
            note = "(Tệp này chỉ tải được qua Telegram hoặc trang trò chuyện trên web.)"
        else:
            try:
                path = await served.publish_document(self._env.sessions, reply.document,
                                                     reply.document_name or "tai-lieu.pdf", dt.timedelta(hours=hours))
                note = f"📄 Tải tệp về (trong {hours} giờ): {self._public}{path}"
            except ValueError:
                note = "(Tệp này chỉ tải được qua Telegram hoặc trang trò chuyện trên web.)"
        return reply.model_copy(update={"text": f"{reply.text}\n\n{note}", "document": None})

    async def _send_photo(self, chat_id: str, reply: Reply) -> bool:
        image = reply.image
        assert image is not None
        if served.image_type(image) is None:
            log.warning("zalo: an image that is neither PNG nor JPEG goes as its text alternative")
            return False
        token = await served.publish(self._env.sessions, image,
                                     dt.timedelta(hours=self._env.settings.media_ttl_hours))
        try:
            await self.api.send_photo(chat_id, served.url_for(self._public, token, image),
                                      to_plain(reply.image_caption))
        except ZaloError as exc:
            if exc.code not in _FINAL:
                raise
            log.warning("%s; sending the text alternative", exc)
            return False
        return True

    def _resume(self, fingerprint: str) -> int:
        done, at = self._partial.pop(fingerprint, (0, 0.0))
        return done if time.monotonic() - at < PARTIAL_KEEP else 0

    def _remember(self, fingerprint: str, done: int) -> None:
        self._partial[fingerprint] = (done, time.monotonic())
        while len(self._partial) > 10_000:
            self._partial.popitem(last=False)


def render(reply: Reply, *, image_note: bool = False) -> list[str]:
    """The reply as plain texts of ≤ 2000 characters; the choices, as a typed-answer line, end the last one."""
    parts = [to_plain(reply.image_caption).strip() if image_note else "", to_plain(reply.text).strip(),
             NO_IMAGE if image_note else ""]
    text = "\n\n".join(part for part in parts if part)
    pieces = split_text(text, TEXT_LIMIT) if text else []
    menu = choice_line(reply)
    if menu and pieces and len(pieces[-1]) + 2 + len(menu) <= TEXT_LIMIT:
        pieces[-1] += "\n\n" + menu
    elif menu:
        pieces += split_text(menu, TEXT_LIMIT)
    return pieces


def choice_line(reply: Reply) -> str:
    labels = [bare_label(choice.label) for choice in reply.flat_choices()]
    if not labels:
        return ""
    if reply.numbered:
        return "Gõ " + " · ".join(f"{number} để {label}" for number, label in enumerate(labels, 1))
    return "Hoặc gõ: " + ", ".join(f"«{label}»" for label in labels)


def bare_label(label: str) -> str:
    """The label without its emoji ("▶ Tiếp tục" → "Tiếp tục"); Vietnamese letters and digits stay."""
    kept = "".join(ch for ch in label if ch not in _INVISIBLE and unicodedata.category(ch) not in ("So", "Sk", "Cs"))
    return " ".join(kept.split()) or label.strip()


def _delivery_error(exc: ZaloError) -> DeliveryError:
    if exc.code == 429:
        return DeliveryError(str(exc), retry_after=exc.retry_after)
    if exc.code == 403:
        return DeliveryError(str(exc), unreachable=True)
    if exc.code is not None and 400 <= exc.code < 500 and exc.code not in (401, 408):
        return DeliveryError(str(exc), permanent=True)
    return DeliveryError(str(exc))  # no answer, a timeout, 5xx, or our token refused (fixed by a restart)


def _is_image(data: bytes) -> bool:
    """A photo_url that gave something else (a web page, an error body) is no photo."""
    try:
        with Image.open(io.BytesIO(data)) as picture:
            picture.verify()
    except Exception:
        return False
    return True
