"""Per-person flood control: a sliding window of recent inbounds; one polite warning, then silence."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable

Pace = Callable[[], Awaitable[None]]  # awaited before each send of a paced delivery


class FloodGuard:
    def __init__(self, limit: int = 20, window: float = 10.0, people: int = 100_000) -> None:
        self.limit, self.window, self.people = limit, window, people
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()
        self._warned: dict[str, float] = {}

    def check(self, person: str, now: float | None = None) -> str:
        """"ok", "warn" (the first inbound over the limit: answer once, politely) or "drop"."""
        at = time.monotonic() if now is None else now
        times = self._seen.pop(person, None) or deque()
        while times and at - times[0] > self.window:
            times.popleft()
        times.append(at)
        self._seen[person] = times
        while len(self._seen) > self.people:
            old, _ = self._seen.popitem(last=False)
            self._warned.pop(old, None)
        if len(times) <= self.limit:
            return "ok"
        if at - self._warned.get(person, -1e9) > self.window:
            self._warned[person] = at
            return "warn"
        return "drop"


class Pacer:
    """Evenly spaced sends: each call returns no sooner than 1/per_second after the previous one returned.

    Platforms refuse the (limit+1)-th message in any one-second window, so sends are spaced for one less than the
    limit: network jitter then cannot squeeze limit+1 of them into one second at the platform's end."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / max(per_second - 1.0, per_second * 0.5, 0.1)
        self._next = 0.0

    async def __call__(self) -> None:
        loop = asyncio.get_running_loop()
        wait = self._next - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        self._next = loop.time() + self.interval
