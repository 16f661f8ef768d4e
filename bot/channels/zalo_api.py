"""A small client for the Zalo Bot Platform API: `POST <root>/bot<TOKEN>/<method>` with JSON,
answers `{ok, result, error_code, description}`.

Sources disagree on details, so everything here is defensive: an error code may come in the body or only as
the HTTP status; `getUpdates` gives one update (or a list, or nothing); a webhook body may be wrapped in
`{ok, result}`. The token is part of every URL: no URL, and no aiohttp error text (which may quote one),
ever reaches a log line or an exception message.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import aiohttp
from pydantic import SecretStr

CALL_TIMEOUT = 15.0  # seconds for an ordinary call (sendMessage, setWebhook, …)
POLL_SECONDS = 30  # how long getUpdates may wait for an update
DOWNLOAD_TIMEOUT = 20.0
TEXT_LIMIT = 2000


class ZaloError(Exception):
    """A failed call. `code`: Zalo's error_code, else the HTTP status; None for a network failure or timeout."""

    def __init__(self, method: str, code: int | None, description: str = "",
                 retry_after: float | None = None) -> None:
        what = f"error {code}" if code is not None else "no answer"
        super().__init__(f"zalo {method}: {what}{f' ({description[:200]})' if description else ''}")
        self.method = method
        self.code = code
        self.description = description
        self.retry_after = retry_after

    @property
    def nothing_yet(self) -> bool:
        """getUpdates' "Request timeout": no update arrived during the long poll."""
        return self.code == 408


class DownloadError(Exception):
    """An incoming photo could not be fetched; `too_large` tells which polite answer fits."""

    def __init__(self, reason: str, *, too_large: bool = False) -> None:
        super().__init__(reason)
        self.too_large = too_large


class ZaloApi:
    def __init__(self, root: str, token: SecretStr) -> None:
        self._root = root.rstrip("/")
        self._token = token
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def _http(self) -> aiohttp.ClientSession:
        if self._closed:
            raise aiohttp.ClientConnectionError("client closed")
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=CALL_TIMEOUT), raise_for_status=False,
                connector=aiohttp.TCPConnector(limit=100))
        return self._session

    async def close(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(self, method: str, body: dict[str, Any] | None = None, *, seconds: float | None = None) -> Any:
        """The call's `result`; ZaloError on any failure (the message names the method, never the URL)."""
        url = f"{self._root}/bot{self._token.get_secret_value()}/{method}"
        limit = aiohttp.ClientTimeout(total=seconds if seconds is not None else CALL_TIMEOUT)
        try:
            async with self._http().post(url, json=body or {}, timeout=limit) as response:
                status, header = response.status, response.headers.get("Retry-After")
                raw = await response.read()
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise ZaloError(method, None, type(exc).__name__) from None
        answer = _json(raw)
        if isinstance(answer, dict) and status < 400 and (
                answer.get("ok") is True or ("ok" not in answer and "error_code" not in answer)):
            return answer.get("result")
        details = answer if isinstance(answer, dict) else {}
        code = _int(details.get("error_code")) or (status if status >= 400 else None)
        parameters = details.get("parameters")
        retry = _float(parameters.get("retry_after") if isinstance(parameters, dict) else None)
        retry = retry if retry is not None else _float(details.get("retry_after"))
        retry = retry if retry is not None else _float(header)
        description = details.get("description")
        raise ZaloError(method, code or 500, description if isinstance(description, str) else "", retry)

    # ---- methods ---------------------------------------------------------------------------------

    async def get_me(self) -> dict[str, Any]:
        result = await self.call("getMe")
        return result if isinstance(result, dict) else {}

    async def get_updates(self, wait: int = POLL_SECONDS) -> list[dict[str, Any]]:
        """Long poll; [] when nothing arrived. Zalo gives one update per call (a list is accepted too)."""
        try:
            result = await self.call("getUpdates", {"timeout": wait}, seconds=wait + 15)
        except ZaloError as exc:
            if exc.nothing_yet:
                return []
            raise
        if isinstance(result, list):
            return [item for item in result if isinstance(item, dict)]
        return [result] if isinstance(result, dict) and result else []

    async def set_webhook(self, url: str, secret: SecretStr) -> None:
        await self.call("setWebhook", {"url": url, "secret_token": secret.get_secret_value()})

    async def delete_webhook(self) -> None:
        await self.call("deleteWebhook")

    async def send_message(self, chat_id: str, text: str) -> None:
        await self.call("sendMessage", {"chat_id": chat_id, "text": text[:TEXT_LIMIT]})

    async def send_photo(self, chat_id: str, url: str, caption: str = "") -> None:
        body = {"chat_id": chat_id, "photo": url}
        if caption:
            body["caption"] = caption[:TEXT_LIMIT]
        await self.call("sendPhoto", body)

    async def send_chat_action(self, chat_id: str, action: str = "typing") -> None:
        await self.call("sendChatAction", {"chat_id": chat_id, "action": action}, seconds=5)

    async def download(self, url: str, max_bytes: int) -> bytes:
        """An incoming photo, at most `max_bytes` (checked on Content-Length and on what is actually read)."""
        if not url.lower().startswith(("https://", "http://")):
            raise DownloadError("not an http(s) URL")
        try:
            async with self._http().get(url, timeout=aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT),
                                        allow_redirects=True, max_redirects=3) as response:
                if response.status != 200:
                    raise DownloadError(f"HTTP {response.status}")
                if response.content_length is not None and response.content_length > max_bytes:
                    raise DownloadError("too large", too_large=True)
                data = bytearray()
                async for chunk in response.content.iter_chunked(64 * 1024):
                    data += chunk
                    if len(data) > max_bytes:
                        raise DownloadError("too large", too_large=True)
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
            raise DownloadError(type(exc).__name__) from None
        if not data:
            raise DownloadError("empty")
        return bytes(data)


# ---- updates ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Message:
    """What the channel needs from one update."""

    event: str
    sender: str  # from.id (the person, and the chat_id replies go to), falling back to chat.id
    message_id: str  # "" when missing: the channel then keys on a hash of the update
    text: str
    photo_url: str
    private: bool
    from_bot: bool
    name: str
    digest: str  # a stable fingerprint of the update, for dedupe without a message_id


def unwrap(body: Any) -> dict[str, Any] | None:
    """The update in a webhook body, flat or wrapped as `{ok, result: {…}}`; None when it is not one."""
    if isinstance(body, dict) and "message" not in body and isinstance(body.get("result"), dict):
        body = body["result"]
    if not isinstance(body, dict):
        return None
    if not isinstance(body.get("event_name"), str) and not isinstance(body.get("message"), dict):
        return None
    return body


def parse(update: dict[str, Any]) -> Message | None:
    """None when the update has no sender we could answer (nothing to do)."""
    message = _dict(update.get("message"))
    sender_info, chat = _dict(message.get("from")), _dict(message.get("chat"))
    sender = _id(sender_info.get("id")) or _id(chat.get("id"))
    if not sender:
        return None
    chat_type = str(chat.get("chat_type") or chat.get("type") or "PRIVATE").upper()
    photo = message.get("photo_url") or message.get("photo")
    name = next((v for k in ("display_name", "first_name", "name") if isinstance(v := sender_info.get(k), str)), "")
    digest = hashlib.sha256(json.dumps(update, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:32]
    return Message(event=str(update.get("event_name") or ""), sender=sender,
                   message_id=_id(message.get("message_id")), text=_str(message.get("text")),
                   photo_url=photo if isinstance(photo, str) else "", private="GROUP" not in chat_type,
                   from_bot=sender_info.get("is_bot") is True, name=name[:64], digest=digest)


def _id(value: Any) -> str:
    """An id as text (Zalo sends strings; numbers are accepted); "" when absent or implausible."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return ""
    text = str(value).strip()
    return text if 0 < len(text) <= 64 and text.isprintable() else ""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        number = float(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None
    return number if number is not None and 0 <= number <= 86_400 else None

