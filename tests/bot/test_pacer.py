"""Announcement pacing: never more than the platform's limit accepted in any window, whatever the delays, and
no slower than one round trip per window. The safety checks use the times each send really saw, so a loaded
machine can make these tests slower but not fail them; only the pace check has a (generous) time bound."""

from __future__ import annotations

import asyncio
import random

from bot.ratelimit import Pacer, place
from bot.workers import broadcast_shares

WINDOW = 0.2  # a short window keeps the tests fast; the pacer scales to any


def most_in_a_window(times: list[float], window: float) -> int:
    """The most acceptances in any window as the platform counts (an acceptance leaves it `window` later)."""
    times = sorted(times)
    return max(sum(1 for t in times if at - window < t <= at) for at in times)


async def test_jittered_sends_never_exceed_the_limit_in_any_window() -> None:
    pace, rng = Pacer(per_second=10, window=WINDOW), random.Random(7)
    loop = asyncio.get_running_loop()
    accepted: list[float] = []

    async def sender(count: int) -> None:
        for _ in range(count):
            async with pace():
                await asyncio.sleep(rng.choice([0.0, 0.001, 0.01, 0.05]))  # the request on its way
                accepted.append(loop.time())  # the platform accepts it somewhere in between
                await asyncio.sleep(rng.choice([0.0, 0.002, 0.03]))  # the answer on its way back

    await asyncio.gather(*(sender(12) for _ in range(5)))
    assert len(accepted) == 60
    assert most_in_a_window(accepted, WINDOW) <= 10


async def test_the_pace_costs_a_round_trip_per_window_not_a_margin() -> None:
    pace = Pacer(per_second=10, window=WINDOW)
    loop = asyncio.get_running_loop()
    started: list[float] = []

    async def sender(count: int) -> None:
        for _ in range(count):
            async with pace():
                started.append(loop.time())
                await asyncio.sleep(0.002)

    began = loop.time()
    await asyncio.gather(*(sender(10) for _ in range(5)))
    # 50 sends at 10 per window: the last starts after 4 windows (plus 4 round trips and the spreading of the first
    # window over half of it); a loaded machine gets half a second more.
    assert 4 * WINDOW <= started[-1] - began <= 4 * WINDOW + 0.5
    assert most_in_a_window(started, WINDOW) <= 10


async def test_the_first_window_is_spread_not_a_burst() -> None:
    pace = Pacer(per_second=10, window=WINDOW)
    loop = asyncio.get_running_loop()
    started: list[float] = []
    for _ in range(10):
        async with pace():
            started.append(loop.time())
    assert started[-1] - started[0] >= 9 * pace.spacing * 0.99
    assert pace.spacing == WINDOW / 10 / 2


async def test_other_sends_go_first_while_an_announcement_fills_the_window() -> None:
    pace = Pacer(per_second=5, window=WINDOW)
    loop = asyncio.get_running_loop()
    order: list[str] = []
    times: list[float] = []
    full = asyncio.Event()

    async def paced(count: int) -> None:
        for n in range(count):
            async with pace():
                order.append(f"paced {n}")
                times.append(loop.time())
            if n == 4:
                full.set()

    announcement = asyncio.create_task(paced(8))
    await full.wait()  # the window is full of the announcement's sends
    async with pace.others():  # a reply: it waits for a free place, then takes it before the announcement
        order.append("reply")
        times.append(loop.time())
    await announcement
    assert order.index("reply") == 5
    assert most_in_a_window(times, WINDOW) <= 5


async def test_other_sends_are_not_held_back_without_an_announcement() -> None:
    pace = Pacer(per_second=5, window=WINDOW)
    loop = asyncio.get_running_loop()
    began = loop.time()
    for _ in range(20):  # four windows' worth of replies: counted, never made to wait
        async with pace.others():
            pass
    assert loop.time() - began < WINDOW
    assert pace.held(loop.time()) == 20

    async with pace():  # an announcement's send waits for them
        pass
    assert loop.time() - began >= WINDOW


async def test_whole_messages_per_window_and_slow_paces() -> None:
    assert (Pacer(7.5).limit, Pacer(7.5).window) == (7, 1.0)  # 30 ÷ 4 workers: 7 each, never 8 in some second
    assert (Pacer(30).limit, Pacer(30).window) == (30, 1.0)
    assert (Pacer(0.5).limit, Pacer(0.5).window) == (1, 2.0)


async def test_a_send_outside_any_pacer_takes_no_place() -> None:
    async with place(None, None):
        pass
    pace = Pacer(2)
    async with place(None, pace):
        assert pace.held(asyncio.get_running_loop().time()) == 1


def test_workers_share_the_limit_in_whole_messages() -> None:
    assert broadcast_shares(30, 1) == [30]
    assert broadcast_shares(30, 4) == [8, 8, 7, 7]  # 30 in all; 7.5 each would pace 7 each, 28 in all
    assert broadcast_shares(30, 3) == [10, 10, 10]
    assert broadcast_shares(2, 4) == [0.5] * 4
