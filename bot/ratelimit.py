"""Per-person flood control: a sliding window of recent inbounds; one polite warning, then silence. And the pace
of announcements: never more sends in any one second than the platform accepts."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext

Pace = Callable[[], AbstractAsyncContextManager[None]]  # entered around each send of a paced delivery


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
    """The platform's window kept from our side: no `window` (1 s) in which the platform may have accepted more
    than `limit` of our sends, whatever the delays of the network or of a loaded machine.

    The platform counts a message when it accepts it, somewhere between our starting the request and our reading
    the answer. So a send holds a place from its start until `window` after its end, and a send starts only while
    fewer than `limit` places are held: of any limit+1 acceptances, the last send started at least `window` after
    one of the others ended, so at least `window` after that one was accepted. No margin is needed; the cost is one
    round trip per window (30 sends per 1.01 s with 10 ms answers).

    Paced sends (`async with pacer():`) also start at least half an even spacing apart, so the window fills over
    half a second rather than in one burst. Other sends (replies, notes to an announcement's author) enter through
    `others()`: they hold places too, and while a paced delivery holds places they take the next free one before
    any paced send (replies are not made to wait behind an announcement); otherwise they go at once."""

    def __init__(self, per_second: float, window: float = 1.0) -> None:
        if per_second >= 1:  # whole messages per window: 7.5/s (30 ÷ 4 workers) is 7, never 8 in some second
            self.limit, self.window = int(per_second + 1e-9), window
        else:  # slower than one a second: one per 1/per_second seconds
            self.limit, self.window = 1, window / max(per_second, 1e-3)
        self.spacing = self.window / self.limit / 2
        self._held: deque[tuple[float, bool]] = deque()  # (end, paced) of ended sends whose place is still held
        self._flying = {True: 0, False: 0}  # sends under way, paced or not: they hold their places
        self._paced_ended = 0  # how many of `_held` are paced
        self._next = 0.0  # the earliest start of the next paced send
        self._others_waiting = 0
        self._turn = asyncio.Lock()  # paced senders take places one after another, in order
        self._changed = asyncio.Event()  # a send ended, or another send took its place

    def __call__(self) -> AbstractAsyncContextManager[None]:
        return self._place(paced=True)

    def others(self) -> AbstractAsyncContextManager[None]:
        return self._place(paced=False)

    def held(self, now: float) -> int:
        """Places held at `now` (sends under way, and ended less than `window` ago)."""
        while self._held and self._held[0][0] <= now - self.window:
            _, paced = self._held.popleft()
            self._paced_ended -= paced
        return len(self._held) + self._flying[True] + self._flying[False]

    def _until_free(self, now: float) -> float | None:
        """Seconds until a held place frees; None when all are under way (one frees `window` after its end)."""
        return self._held[0][0] + self.window - now if self._held else None

    @asynccontextmanager
    async def _place(self, *, paced: bool) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        if paced:
            async with self._turn:
                while True:
                    now = loop.time()
                    if self._others_waiting:
                        await self._wait(None)
                    elif self.held(now) >= self.limit:
                        await self._wait(self._until_free(now))
                    elif now < self._next:
                        await self._wait(self._next - now)
                    else:
                        break
                self._next = now + self.spacing
                self._take(paced)
        else:
            now = loop.time()
            if self.held(now) >= self.limit and self._flying[True] + self._paced_ended:
                self._others_waiting += 1
                try:
                    while self.held(now) >= self.limit:
                        await self._wait(self._until_free(now))
                        now = loop.time()
                finally:
                    self._others_waiting -= 1
                    self._changed.set()
            self._take(paced)
        try:
            yield
        finally:  # the end as we see it: the platform accepted the message at the latest now
            self._flying[paced] -= 1
            self._held.append((loop.time(), paced))
            self._paced_ended += paced
            self._changed.set()

    def _take(self, paced: bool) -> None:
        self._flying[paced] += 1
        self._changed.set()  # a paced sender waiting for others to go first looks again

    async def _wait(self, seconds: float | None) -> None:
        """Until something changes, or `seconds` pass."""
        self._changed.clear()
        try:
            await asyncio.wait_for(self._changed.wait(), seconds)
        except TimeoutError:
            pass


def place(pace: Pace | None, pacer: Pacer | None) -> AbstractAsyncContextManager[None]:
    """The place a send takes: in its paced delivery's window, else in the pacer's as another send, else none."""
    if pace is not None:
        return pace()
    return pacer.others() if pacer is not None else nullcontext()
