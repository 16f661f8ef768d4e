"""The fake Telegram Bot API (tests/fakes/telegram_api.py) as its own process, and a client for its control API.

Every reply the fake receives is streamed here over a websocket with the fake's own timestamps, so the latency of an
update is measured inside the fake: from handing the update out in getUpdates to receiving the first reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from benchmarks.procs import ROOT, Proc

TOKEN = "123456:BENCH-token"


@dataclass
class FakeApi:
    """A running fake and the stream of what it receives."""

    proc: Proc
    root: str
    http: aiohttp.ClientSession
    socket: aiohttp.ClientWebSocketResponse | None = None
    reader: asyncio.Task[None] | None = None
    listeners: list[Callable[[dict[str, Any]], None]] = field(default_factory=list)
    first_calls: dict[str, float] = field(default_factory=dict)  # method → when the fake first saw it
    by_method: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))

    @classmethod
    async def start(cls) -> FakeApi:
        proc = await Proc.spawn("fake", [sys.executable, "-m", "tests.fakes.telegram_api", "--port", "0",
                                         "--token", TOKEN], cwd=ROOT, stdout=True)
        assert proc.process.stdout is not None
        line = (await asyncio.wait_for(proc.process.stdout.readline(), timeout=30)).decode()
        if "http://" not in line:
            await proc.stop()
            raise RuntimeError(f"the fake Bot API did not start: {line!r}")
        root = line.split(" on ", 1)[1].split()[0]
        fake = cls(proc=proc, root=root, http=aiohttp.ClientSession())
        fake.socket = await fake.http.ws_connect(f"{root}/_fake/stream", max_msg_size=0)
        fake.reader = asyncio.create_task(fake._read())
        return fake

    async def _read(self) -> None:
        assert self.socket is not None
        async for message in self.socket:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            for event in json.loads(message.data):
                self.by_method[event["m"]] += 1
                self.first_calls.setdefault(event["m"], event["at"])
                for listener in list(self.listeners):
                    listener(event)

    async def send(self, specs: list[dict[str, Any]]) -> None:
        """Queue updates: {"user": id, "text": …} or {"user": id, "data": callback data}."""
        assert self.socket is not None
        await self.socket.send_str(json.dumps(specs))

    async def control(self, path: str, body: Any = None) -> Any:
        method = self.http.get if body is None else self.http.post
        kwargs = {} if body is None else {"json": body}
        async with method(f"{self.root}/_fake/{path}", **kwargs) as response:
            response.raise_for_status()
            return (await response.json())["result"]

    async def reset(self) -> None:
        await self.control("reset", {})
        self.first_calls.clear()
        self.by_method.clear()

    async def stats(self) -> dict[str, Any]:
        return dict(await self.control("stats"))

    async def wait_first(self, method: str, within: float) -> float:
        """When the fake first saw `method` (since the last reset)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while method not in self.first_calls:
            if loop.time() > deadline:
                raise TimeoutError(f"the fake never saw {method}")
            await asyncio.sleep(0.005)
        return self.first_calls[method]

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader
        await self.http.close()
        await self.proc.stop()
