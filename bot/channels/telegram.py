"""Telegram through python-telegram-bot: long polling (telegram_polling.Poller, which confirms an update only
once it is committed), or a webhook on the bot's own aiohttp server.

Replies: inline keyboards (callback data ≤ 64 bytes), HTML text split at 4096 characters, images
uploaded as photos. Errors become DeliveryError, so the engine's outbox retries (429 honours
retry_after; network errors and 5xx back off) or stops messaging someone who blocked the bot.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any

from aiohttp import web
from sqlalchemy import or_, select
from telegram import BotCommand, BotCommandScopeChat, BotCommandScopeDefault, InlineKeyboardMarkup, Update
from telegram.constants import MessageLimit, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application

from bot.channels.base import Busy, ChannelEnv, DeliveryError
from bot.channels.markup import to_html
from bot.channels.split import split_text
from bot.channels.telegram_calls import BotCalls, keyboard
from bot.channels.telegram_inbound import to_inbound
from bot.channels.telegram_polling import Poller, retry_seconds
from bot.channels.telegram_request import AiohttpRequest
from bot.messages import Reply
from bot.roles import Role
from bot.settings import ConfigError
from storage.models import Person

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "callback_query"]
MAX_HTML = 4096
TEXT_PIECE = 3500  # plain characters per message, leaving room for HTML escapes under 4096
CAPTION_LIMIT = int(MessageLimit.CAPTION_LENGTH)
# Connections to the Bot API, requests under way at once: a few dozen keep one machine's sends flowing.
CONNECTIONS = 32


class TelegramChannel:
    name = "telegram"

    def __init__(self, env: ChannelEnv) -> None:
        settings = env.settings
        if settings.telegram_token is None:
            raise ConfigError("HOCVUSO_TELEGRAM_TOKEN is not set")
        self._env = env
        self._webhook = bool(settings.public_url)
        if self._webhook and (settings.webhook_secret is None or not settings.webhook_secret.get_secret_value()):
            raise ConfigError("HOCVUSO_WEBHOOK_SECRET must be set when HOCVUSO_PUBLIC_URL is (webhook mode)")
        api = settings.telegram_api_url
        # No rate limiter: the outbox honours Telegram's 429 retry_after per message, and broadcasts are paced
        # by the engine. No Updater: the Poller confirms updates only after they are committed.
        # aiohttp instead of PTB's httpx: a fraction of the CPU per call (telegram_request). getUpdates has its own
        # single connection, its long poll read timeout set per call by the Poller.
        self.app = (Application.builder().token(settings.telegram_token.get_secret_value())
                    .base_url(f"{api}/bot").base_file_url(f"{api}/file/bot")
                    .request(AiohttpRequest(CONNECTIONS, read_timeout=20, write_timeout=30, connect_timeout=10,
                                            pool_timeout=10))
                    .get_updates_request(AiohttpRequest(1, read_timeout=40))
                    .updater(None).build())
        self._calls = BotCalls(self.app.bot)
        self._background: set[asyncio.Task[Any]] = set()
        self._poller: asyncio.Task[None] | None = None

    # ---- lifecycle -------------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        if self._webhook:
            app.router.add_post(WEBHOOK_PATH, self.webhook)

    async def start(self) -> None:
        await self.app.initialize()
        await self.app.start()
        if self._webhook:
            secret = self._env.settings.webhook_secret
            assert secret is not None
            await self.app.bot.set_webhook(url=f"{self._env.settings.public_url}{WEBHOOK_PATH}",
                                           secret_token=secret.get_secret_value(),
                                           allowed_updates=ALLOWED_UPDATES)
            log.info("telegram: webhook set")
        else:
            await self.app.bot.delete_webhook()  # getUpdates is refused while a webhook is set
            poller = Poller(self.app.bot, self._process, ALLOWED_UPDATES, timeout=30)
            self._poller = asyncio.create_task(poller.run(), name="telegram-polling")
            log.info("telegram: polling")
        # The command menus (one call, plus one per mentor and official) need not delay taking updates.
        self._spawn(self._set_commands_quietly())

    async def _set_commands_quietly(self) -> None:
        try:
            await self.set_commands()
        except Exception as exc:
            log.warning("telegram: command menus not set: %s", type(exc).__name__)

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.wait([self._poller])  # not `await`: the poller's own end must not cancel this stop
        if self.app.running:
            await self.app.stop()
        pending = list(self._background)
        for task in pending:
            task.cancel()
        if pending:  # they may be reading the database: done before the app disposes of it
            await asyncio.wait(pending)
        await self.app.shutdown()

    async def set_commands(self) -> None:
        """Everyone's command menu, and a full list per chat for mentors and officials."""
        menu = self._env.command_menu
        await self.app.bot.set_my_commands(_commands(menu()), scope=BotCommandScopeDefault())
        async with self._env.sessions() as session:
            people = list(await session.scalars(select(Person).where(
                Person.ref.like("telegram:%"), or_(Person.is_mentor, Person.is_official))))
        for person in people:
            roles = [role for role, has in ((Role.MENTOR, person.is_mentor), (Role.OFFICIAL, person.is_official))
                     if has]
            chat_id = int(person.ref.split(":", 1)[1])
            try:
                await self.app.bot.set_my_commands(_commands(menu(*roles)), scope=BotCommandScopeChat(chat_id))
            except TelegramError as exc:
                log.warning("telegram: per-chat commands not set: %s", type(exc).__name__)

    async def refresh_commands(self, person: str, roles: list[Role]) -> None:
        """A person became a mentor or an official: their own full command list."""
        chat_id = int(person.split(":", 1)[1])
        await self.app.bot.set_my_commands(_commands(self._env.command_menu(*roles)),
                                           scope=BotCommandScopeChat(chat_id))

    # ---- inbound ---------------------------------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        secret = self._env.settings.webhook_secret
        given = request.headers.get(SECRET_HEADER, "")
        if secret is None or not hmac.compare_digest(given.encode(), secret.get_secret_value().encode()):
            return web.json_response({"error": "unauthorized"}, status=401)
        try:
            body = await request.json(loads=json.loads)
            valid = isinstance(body, dict) and type(body.get("update_id")) is int
            update = Update.de_json(body, self.app.bot) if valid else None
            inbound = await to_inbound(update, self._env.settings.max_photo_bytes) if update is not None else None
        except web.HTTPException:
            raise  # 413: over the server's body limit
        except Exception:  # whatever the shape, a body that is no Telegram update is the sender's error
            return web.json_response({"error": "not a Telegram update"}, status=400)
        if update is None:
            return web.json_response({"error": "not a Telegram update"}, status=400)
        if update.callback_query is not None:
            self._spawn(self._settle_button(update))
        if inbound is not None:
            try:
                await self._env.handle(inbound)  # returns once committed; replies go in the background
            except Busy:
                return web.json_response({"error": "busy, send again"}, status=503)  # Telegram retries
        return web.json_response({"ok": True})

    async def _process(self, update: Update) -> None:
        """One polled update. Busy propagates (the Poller does not confirm it); any other failure is logged and
        the update confirmed, so one odd update cannot block the queue."""
        if update.callback_query is not None:
            self._spawn(self._settle_button(update))
        try:
            inbound = await to_inbound(update, self._env.settings.max_photo_bytes)
            if inbound is not None:
                await self._env.handle(inbound)
        except Busy:
            raise
        except Exception:
            log.exception("telegram: an update could not be handled")

    async def _settle_button(self, update: Update) -> None:
        """Answer the callback (Telegram shows a spinner until then) and take the keyboard off its message."""
        query = update.callback_query
        assert query is not None
        try:
            await self._calls.answer_button(query.id)
            if query.message is not None and query.message.chat.type == "private":
                await self._calls.remove_keyboard(query.message.chat.id, query.message.message_id)
        except Exception as exc:  # housekeeping only: never an unhandled task error
            log.debug("telegram: callback housekeeping failed: %s", type(exc).__name__)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ---- outbound --------------------------------------------------------------------------------

    async def send(self, person: str, reply: Reply) -> None:
        raw = person.split(":", 1)[1]
        if not raw.lstrip("-").isascii() or not raw.lstrip("-").isdigit():
            raise DeliveryError("telegram: not a chat id", permanent=True)
        chat_id = int(raw)
        markup = keyboard(reply)
        pieces = [piece for part in (split_text(reply.text, TEXT_PIECE) if reply.text else [])
                  for piece in _fit_html(part)]
        try:
            if reply.image is not None:
                caption = pieces.pop(0) if pieces and len(to_html(pieces[0])) <= CAPTION_LIMIT else None
                await self.app.bot.send_photo(
                    chat_id, photo=reply.image, caption=to_html(caption) if caption else None,
                    parse_mode=ParseMode.HTML, reply_markup=_upload_markup(markup) if not pieces else None)
            for index, piece in enumerate(pieces):
                last = index == len(pieces) - 1 and reply.document is None
                await self._calls.send_text(chat_id, to_html(piece), markup if last else None)
            if reply.document is not None:
                await self.app.bot.send_document(chat_id, document=reply.document,
                                                 filename=reply.document_name or "tai-lieu.pdf",
                                                 reply_markup=_upload_markup(markup))
        except RetryAfter as exc:
            raise DeliveryError("telegram: flood control", retry_after=retry_seconds(exc)) from None
        except Forbidden as exc:
            raise DeliveryError(f"telegram: forbidden ({exc.message})", unreachable=True) from None
        except BadRequest as exc:
            gone = "chat not found" in exc.message.lower()
            raise DeliveryError(f"telegram: bad request ({exc.message})", permanent=True, unreachable=gone) from None
        except (TimedOut, NetworkError, TelegramError) as exc:  # network trouble, 5xx: try again later
            raise DeliveryError(f"telegram: {type(exc).__name__}") from None


def _fit_html(piece: str) -> list[str]:
    """Pieces whose HTML (escapes included) fits Telegram's 4096 characters."""
    if len(to_html(piece)) <= MAX_HTML:
        return [piece]
    return [smaller for part in split_text(piece, max(200, len(piece) // 2)) for smaller in _fit_html(part)]


def _upload_markup(markup: dict[str, Any] | None) -> InlineKeyboardMarkup | None:
    """The keyboard as PTB's object, for the uploads that go through PTB's own methods."""
    return InlineKeyboardMarkup.de_json(markup, None) if markup is not None else None


def _commands(menu: list[tuple[str, str]]) -> list[BotCommand]:
    return [BotCommand(name, description[:256]) for name, description in menu]

