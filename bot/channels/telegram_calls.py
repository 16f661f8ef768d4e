"""The Bot API calls made for every update — sendMessage, answerCallbackQuery, editMessageReplyMarkup — as plain
JSON through python-telegram-bot's request object, without its Telegram objects.

`bot.send_message(…)` builds the parameters through PTB's object layer and turns the answer into a Message (dozens of
objects) that the engine never reads: about 0.65 ms of CPU per call, against 0.3 ms for the same request posted
here (`python -m benchmarks.api_calls`). The request still goes through PTB's `BaseRequest.post`, so its answers
are judged as before: 429 is RetryAfter, 403 Forbidden, 400 BadRequest, a timeout TimedOut.

Uploads (photos, documents) and the rare calls keep PTB's methods.
"""

from __future__ import annotations

from typing import Any

from telegram import Bot
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bot.messages import Reply

Keyboard = dict[str, list[list[dict[str, str]]]]


def _body(values: dict[str, Any]) -> RequestData:
    """The parameters as PTB's RequestData, values already plain JSON (None left out, as PTB does)."""
    # RequestParameter is PTB's own building block of RequestData (both final); its module is not exported.
    return RequestData([RequestParameter(key, value, None) for key, value in values.items() if value is not None])


def keyboard(reply: Reply) -> Keyboard | None:
    """The reply's choices as an inline keyboard (callback data cut to Telegram's 64 bytes)."""
    if not reply.choices:
        return None
    return {"inline_keyboard": [[{"text": choice.label, "callback_data": _cut(choice.payload)} for choice in row]
                                for row in reply.choices]}


def _cut(payload: str, limit: int = 64) -> str:
    """At most `limit` bytes of UTF-8, whole characters only."""
    data = payload.encode()
    return payload if len(data) <= limit else data[:limit].decode(errors="ignore")


class BotCalls:
    """The per-update calls, posted through the bot's own request object (its connections and timeouts)."""

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def call(self, method: str, values: dict[str, Any]) -> Any:
        """One Bot API method; its `result`, or PTB's TelegramError for what the API refused."""
        return await self._bot.request.post(f"{self._bot.base_url}/{method}", request_data=_body(values))

    async def send_text(self, chat_id: int, html: str, markup: Keyboard | None) -> None:
        await self.call("sendMessage", {"chat_id": chat_id, "text": html, "parse_mode": "HTML",
                                        "reply_markup": markup})

    async def answer_button(self, query_id: str) -> None:
        await self.call("answerCallbackQuery", {"callback_query_id": query_id})

    async def remove_keyboard(self, chat_id: int, message_id: int) -> None:
        await self.call("editMessageReplyMarkup", {"chat_id": chat_id, "message_id": message_id})
