"""The engine alone, no platform: N onboarded people walk the benchmark's lesson script through `Engine.handle`
(as the Telegram poller calls it, one update per person at a time, everyone together), replies going to a recording
channel. Prints CPU ms per update; with --profile, the cProfile of the run, by cumulative time.

    python -m benchmarks.engine_micro --people 200 --rounds 10 [--profile 40]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import os
import pathlib
import pstats
import tempfile
import time

from benchmarks import botdb
from benchmarks.script import lesson_cycle
from bot.app import build
from bot.messages import Inbound, InboundKind
from tests.harness import Recorder, settings_for

_keys = itertools.count(1)


def _inbound(user: int, spec: tuple[str, str]) -> Inbound:
    kind, value = spec
    person = f"telegram:{user}"
    if kind == "data":
        return Inbound(person=person, kind=InboundKind.CHOICE, key=f"k{next(_keys)}", payload=value)
    return Inbound.from_text(person, value, key=f"k{next(_keys)}")


async def main(people: int, rounds: int, profile: int) -> None:
    folder = pathlib.Path(tempfile.mkdtemp())
    db = folder / "micro.db"
    users = list(range(100_001, 100_001 + people))
    await botdb.prepare(db, users)
    app = await build(settings_for(db, lessons_dir=None, flood_limit=1_000_000))
    recorder = Recorder(name="telegram")
    app.engine.add_channel(recorder)
    moves = lesson_cycle()

    async def walk(user: int, count: int, start: int) -> None:
        for i in range(start, start + count):
            await app.engine.handle(_inbound(user, moves[i % len(moves)].spec), wait_delivery=False)

    await asyncio.gather(*(walk(u, len(moves), 0) for u in users))  # warm-up: one cycle each
    await app.engine.drain()
    profiler = cProfile.Profile() if profile else None
    started, cpu = time.perf_counter(), time.process_time()
    sent_before = len(recorder.sent)
    if profiler:
        profiler.enable()
    await asyncio.gather(*(walk(u, rounds, 0) for u in users))
    await app.engine.drain()
    if profiler:
        profiler.disable()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - started
    handled = people * rounds
    replies = len(recorder.sent) - sent_before
    print(f"{handled} updates: {cpu * 1000 / handled:.3f} ms CPU per update, {handled / wall:.0f} updates/s, "
          f"{replies} replies")
    if replies < handled:
        raise SystemExit(f"only {replies} replies to {handled} updates: the script went off the lesson")
    await app.close()
    if profiler:
        pstats.Stats(profiler).sort_stats(os.environ.get("SORT", "cumulative")).print_stats(profile)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--profile", type=int, default=0, help="print this many lines of the cProfile")
    args = parser.parse_args()
    asyncio.run(main(args.people, args.rounds, args.profile))
