"""Simulated people sending updates through the fake API, each with at most one update outstanding.

`saturate` sends each person's next update as soon as the previous one is answered, until `total` updates have been
answered: updates/s. `paced` offers updates at a fixed rate (to whichever people are not waiting for an answer):
the latency of each, measured inside the fake from handing the update out to receiving the first reply.

An update is answered when a reply with buttons arrives (`until="buttons"`: the engine's last message of an answer
carries the buttons for the next step) or at the first reply (`until="first"`: the echo bot sends one message).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from benchmarks.fake import FakeApi
from benchmarks.script import Move

REPLIES = frozenset({"sendMessage", "sendPhoto", "sendDocument"})


@dataclass
class Person:
    user: int
    position: int = 0  # the next move in the cycle
    waiting: bool = False
    sent_at: float = 0.0
    first: float | None = None


@dataclass
class PhaseResult:
    answered: int
    seconds: float
    latencies: list[float]  # seconds, fake-measured, one per answered update
    off_script: int  # answers whose buttons did not include the next move's
    stalled: int  # updates still unanswered when the phase gave up (0 when it completed)
    offered_per_second: float | None = None

    @property
    def per_second(self) -> float:
        return self.answered / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, q: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]

    def summary(self) -> dict[str, Any]:
        ms = [x * 1000 for x in self.latencies]
        return {"answered": self.answered, "seconds": round(self.seconds, 3), "per_second": round(self.per_second, 1),
                "offered_per_second": self.offered_per_second,
                "p50_ms": _ms(self.percentile(50)), "p90_ms": _ms(self.percentile(90)),
                "p99_ms": _ms(self.percentile(99)), "max_ms": round(max(ms), 1) if ms else None,
                "mean_ms": round(statistics.fmean(ms), 1) if ms else None,
                "off_script": self.off_script, "stalled": self.stalled}


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


@dataclass
class Crowd:
    fake: FakeApi
    cycle: list[Move]
    users: list[int]
    until: Literal["buttons", "first"]
    people: dict[int, Person] = field(init=False)
    idle: deque[int] = field(init=False)
    _outgoing: list[dict[str, object]] = field(default_factory=list)
    _flush: asyncio.Event = field(default_factory=asyncio.Event)
    _answered: asyncio.Event = field(default_factory=asyncio.Event)
    _results: list[float] = field(default_factory=list)
    _off_script: int = 0
    _count: int = 0
    _on_idle: Any = None  # called with the user when someone's update is answered

    def __post_init__(self) -> None:
        self.people = {user: Person(user) for user in self.users}
        self.idle = deque(self.users)

    # ---- plumbing ----------------------------------------------------------------------------------

    def _event(self, event: dict[str, Any]) -> None:
        if event["m"] not in REPLIES or event["s"] != 200:
            return
        person = self.people.get(event["chat"])
        if person is None or not person.waiting:
            return
        if person.first is None and event.get("first") is not None:
            person.first = float(event["first"])
        buttons = [b for b in event.get("kb") or [] if b]
        if self.until == "buttons" and not buttons:
            return
        if self.until == "buttons":
            expect = self.cycle[person.position].expect
            if expect is not None and not any(b.startswith(expect) for b in buttons):
                self._off_script += 1
        person.waiting = False
        if person.first is not None:
            self._results.append(person.first)
        self._count += 1
        self._answered.set()
        if self._on_idle is not None:
            self._on_idle(person.user)
        else:
            self.idle.append(person.user)

    def _send(self, user: int) -> None:
        person = self.people[user]
        move = self.cycle[person.position]
        person.position = (person.position + 1) % len(self.cycle)
        person.waiting, person.first, person.sent_at = True, None, time.monotonic()
        self._outgoing.append(move.update(user))
        self._flush.set()

    async def _sender(self) -> None:
        while True:
            await self._flush.wait()
            self._flush.clear()
            batch, self._outgoing = self._outgoing, []
            if batch:
                await self.fake.send(batch)

    def _waiting(self) -> int:
        return sum(1 for p in self.people.values() if p.waiting)

    async def _run(self, body: Any, stall_after: float) -> tuple[float, int]:
        """Run `body()` (which starts the sending) and wait until every update sent is answered."""
        self.fake.listeners.append(self._event)
        sender = asyncio.create_task(self._sender())
        self._results, self._off_script, self._count = [], 0, 0
        started = time.monotonic()
        stalled = 0
        try:
            await body()
            last, seen = time.monotonic(), self._count
            while self._waiting():
                self._answered.clear()
                try:
                    await asyncio.wait_for(self._answered.wait(), timeout=1.0)
                except TimeoutError:
                    pass
                if self._count != seen:
                    last, seen = time.monotonic(), self._count
                elif time.monotonic() - last > stall_after:
                    stalled = self._waiting()
                    for person in self.people.values():
                        person.waiting = False
                    break
        finally:
            self.fake.listeners.remove(self._event)
            sender.cancel()
            self._on_idle = None
        return time.monotonic() - started, stalled

    # ---- the phases ----------------------------------------------------------------------------------

    async def saturate(self, total: int, *, stall_after: float = 60.0) -> PhaseResult:
        """Everyone at once, each next update sent as soon as the last is answered, `total` updates in all."""
        sent = 0

        def again(user: int) -> None:
            nonlocal sent
            if sent < total:
                sent += 1
                self._send(user)
            else:
                self.idle.append(user)

        async def body() -> None:
            nonlocal sent
            self._on_idle = again
            while self.idle and sent < total:
                sent += 1
                self._send(self.idle.popleft())

        seconds, stalled = await self._run(body, stall_after)
        return PhaseResult(self._count, seconds, list(self._results), self._off_script, stalled)

    async def paced(self, rate: float, duration: float, *, stall_after: float = 60.0) -> PhaseResult:
        """Offer `rate` updates/s for `duration` seconds, each to the longest-idle person (skipped if none is)."""
        offered = skipped = 0

        async def body() -> None:
            nonlocal offered, skipped
            start = time.monotonic()
            due_total = int(rate * duration)
            while offered + skipped < due_total:
                due = min(due_total, int((time.monotonic() - start) * rate) + 1)
                while offered + skipped < due:
                    if self.idle:
                        self._send(self.idle.popleft())
                        offered += 1
                    else:
                        skipped += 1
                await asyncio.sleep(max(0.0, start + (offered + skipped) / rate - time.monotonic()))

        seconds, stalled = await self._run(body, stall_after)
        result = PhaseResult(self._count, seconds, list(self._results), self._off_script, stalled)
        result.offered_per_second = round(offered / duration, 1)
        return result
