"""Per-person flood control: a sliding window of recent inbounds; one polite warning, then silence."""

from __future__ import annotations

import time
from collections import OrderedDict, deque


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
