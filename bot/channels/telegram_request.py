"""python-telegram-bot's HTTP calls on aiohttp, bodies written and answers read with orjson.

PTB's own HTTPXRequest costs the engine most of its CPU per Bot API call: httpcore looks at every pooled connection
(a readable-socket check and getpeername) on each request, and answers are parsed with the standard json module.
Here a call is one aiohttp request on a kept-alive connection: the parameters go as one JSON body (the Bot API takes
application/json), files as multipart/form-data like PTB sends them, and the answer is parsed by orjson.

Same behaviour as HTTPXRequest towards PTB: the status and body come back raw, so PTB still turns 429 into
RetryAfter, 403 into Forbidden, 400 into BadRequest; a timeout is TimedOut; a refused or broken connection is
NetworkError; a request that finds every connection busy for pool_timeout is TimedOut and never sent.

Timeouts: connect_timeout bounds opening a connection, read_timeout the wait for each piece of the answer once the
request is written (aiohttp's sock_read), pool_timeout the wait for a free connection. aiohttp has no timeout per
socket write: for an upload, the whole request is bounded by connect + media_write + read timeouts instead, so it
cannot hang for good; other bodies are a few hundred bytes that the socket takes at once.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import aiohttp
import orjson
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

JSON_HEADERS = {"Content-Type": "application/json"}
POOL_TIMEOUT_MESSAGE = ("Pool timeout: All connections in the connection pool are occupied. Request was *not* sent "
                        "to Telegram. Consider adjusting the connection pool size or the pool timeout.")


class AiohttpRequest(BaseRequest):
    """A BaseRequest on one aiohttp session, with at most `connection_pool_size` requests under way at once."""

    __slots__ = ("_connect_timeout", "_media_write_timeout", "_pool_size", "_pool_timeout", "_read_timeout",
                 "_session", "_slots", "_timeouts", "_write_timeout")

    def __init__(self, connection_pool_size: int = 32, read_timeout: float | None = 5.0,
                 write_timeout: float | None = 5.0, connect_timeout: float | None = 5.0,
                 pool_timeout: float | None = 1.0, media_write_timeout: float | None = 20.0) -> None:
        if connection_pool_size < 1:
            raise ValueError("connection_pool_size must be at least 1")
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._slots: asyncio.Semaphore | None = None
        # The few combinations of timeouts in use, built once: (read, write, connect, upload) → ClientTimeout.
        self._timeouts: dict[tuple[float | None, float | None, float | None, bool], aiohttp.ClientTimeout] = {}

    @property
    def read_timeout(self) -> float | None:
        """See BaseRequest.read_timeout: the default read timeout."""
        return self._read_timeout

    @property
    def closed(self) -> bool:
        return self._session is None or self._session.closed

    async def initialize(self) -> None:
        """Opens the session (again, after a shutdown). The session belongs to the running event loop."""
        if not self.closed:
            return
        # The semaphore bounds the requests under way, so the connector never makes one wait: its limit is only a
        # safety net. No cookies: the Bot API sets none.
        connector = aiohttp.TCPConnector(limit=self._pool_size)
        self._session = aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                                              headers={"User-Agent": self.USER_AGENT},
                                              timeout=aiohttp.ClientTimeout(total=None))
        self._slots = asyncio.Semaphore(self._pool_size)

    async def shutdown(self) -> None:
        """Closes the session and its connections; initialize() opens a new one."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
                         write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
                         connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
                         pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE) -> tuple[int, bytes]:
        """See BaseRequest.do_request: (HTTP status, body), the status left for PTB to judge."""
        session, slots = self._session, self._slots
        if session is None or slots is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        upload = request_data is not None and request_data.contains_files
        if isinstance(read_timeout, DefaultValue):
            read_timeout = self._read_timeout
        if isinstance(connect_timeout, DefaultValue):
            connect_timeout = self._connect_timeout
        if isinstance(pool_timeout, DefaultValue):
            pool_timeout = self._pool_timeout
        if isinstance(write_timeout, DefaultValue):
            write_timeout = self._media_write_timeout if upload else self._write_timeout
        timeout = self._timeout(read_timeout, write_timeout, connect_timeout, upload)

        body: Any = None
        headers: dict[str, str] | None = None
        if request_data is not None:
            if upload:
                body = _form(request_data)
            else:
                parameters = request_data.parameters
                if parameters:
                    body = _json(request_data, parameters)
                    headers = JSON_HEADERS

        if slots.locked():  # every connection busy: wait up to pool_timeout, as httpx's pool does
            try:
                await asyncio.wait_for(slots.acquire(), pool_timeout)
            except TimeoutError as exc:
                raise TimedOut(message=POOL_TIMEOUT_MESSAGE) from exc
        else:
            await slots.acquire()  # free: returns at once
        try:
            async with session.request(method, url, data=body, headers=headers, timeout=timeout) as response:
                return response.status, await response.read()
        except TimeoutError as exc:  # before ClientError: aiohttp's timeouts are both
            raise TimedOut from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc
        finally:
            slots.release()

    def _timeout(self, read: float | None, write: float | None, connect: float | None,
                 upload: bool) -> aiohttp.ClientTimeout:
        key = (read, write, connect, upload)
        timeout = self._timeouts.get(key)
        if timeout is None:
            total = None
            if upload and None not in key[:3]:
                total = cast(float, connect) + cast(float, write) + cast(float, read)
            timeout = aiohttp.ClientTimeout(total=total, sock_connect=connect, sock_read=read)
            if len(self._timeouts) < 64:  # callers passing ever new timeouts must not grow it for good
                self._timeouts[key] = timeout
        return timeout

    @staticmethod
    def parse_json_payload(payload: bytes) -> dict[str, Any]:
        """orjson; what it refuses (invalid UTF-8, not JSON) goes to PTB's own parser and its errors. (orjson reads
        integers beyond 64 bits as floats: the Bot API's ids fit in 52.)"""
        try:
            result = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return BaseRequest.parse_json_payload(payload)
        return cast(dict[str, Any], result)


def _json(request_data: RequestData, parameters: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(parameters)
    except TypeError:  # something orjson cannot write: PTB's own encoding
        return request_data.json_payload


def _form(request_data: RequestData) -> aiohttp.FormData:
    """multipart/form-data as PTB's HTTPXRequest sends it: JSON-encoded parameters, then the files."""
    form = aiohttp.FormData()
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form
