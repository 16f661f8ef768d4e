"""Broadcast pacing: sends evenly spaced for a little under the platform's limit, even from concurrent senders."""

from __future__ import annotations

import asyncio
import itertools

from bot.ratelimit import Pacer


async def test_concurrent_senders_get_evenly_spaced_slots_below_the_limit() -> None:
    pace = Pacer(per_second=50)
    loop = asyncio.get_running_loop()
    times: list[float] = []

    async def sender(count: int) -> None:
        for _ in range(count):
            await pace()
            times.append(loop.time())

    await asyncio.gather(*(sender(15) for _ in range(4)))
    times.sort()
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(times) == 60
    assert min(gaps) >= pace.interval * 0.5  # never a burst (a late wake-up is followed by a shorter gap) …
    assert all(sum(1 for t in times if start <= t < start + 1.0) <= 49 for start in times)  # … never the limit
    assert times[-1] - times[0] <= 59 * pace.interval + 0.2  # and no slower than the pace
    assert pace.interval == 1 / 48
