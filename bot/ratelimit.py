"""Per-person flood control: a sliding window of recent inbounds; one polite warning, then silence."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable

Pace = Callable[[], Awaitable[None]]  # awaited before each send of a paced delivery
MARGIN = 2.0  # messages per second below the platform's limit: room for jitter and for the progress notes to the author


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

    Platforms refuse the (limit+1)-th message in any one-second window, so sends are spaced for a little less than
    the limit (MARGIN): then limit+1 of them span over a second by more than the wake-up and network jitter."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / max(per_second - MARGIN, per_second * 0.5, 0.1)
        self._next = 0.0
        self._turn = asyncio.Lock()  # concurrent senders take their slots one after another

    async def __call__(self) -> None:
        async with self._turn:  # slots on a fixed grid, so a late wake-up does not slow the pace; no catching up
            now = asyncio.get_running_loop().time()
            slot = max(self._next, now)
            if slot > now:
                await asyncio.sleep(slot - now)
            self._next = slot + self.interval
