"""A loop that logs errors and carries on still stops when its task is cancelled, even when a library turned the
cancellation into an error of its own."""

from __future__ import annotations

import asyncio

import pytest

from bot.cancel import unless_cancelled


async def test_a_loop_that_swallows_a_converted_cancellation_still_stops() -> None:
    rounds = 0

    async def library_call() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            raise OSError("connection closed") from None  # what some network libraries do

    async def loop_forever() -> None:
        nonlocal rounds
        while True:
            rounds += 1
            try:
                await library_call()
            except Exception:
                unless_cancelled()
                await asyncio.sleep(0.01)

    task = asyncio.create_task(loop_forever())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=2)
    assert rounds == 1
