"""The bot runs, each a real process polling the fake: the engine (`hocvuso run`), the baseline echo bot, the
engine's start-up on a fresh database, and a broadcast under Telegram's 30 messages/s limit."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any

from benchmarks import botdb
from benchmarks.fake import TOKEN, FakeApi
from benchmarks.load import REPLIES, Crowd
from benchmarks.procs import ROOT, Proc, hocvuso_command
from benchmarks.script import lesson_cycle

LEARNER_BASE = 100_001
RECIPIENT_BASE = 500_001
OFFICIAL = 9_001


@dataclass(frozen=True)
class Load:
    people: int
    updates: int
    warmup_per_person: int
    rate: float  # offered updates/s in the latency phase
    latency_seconds: float
    stall_after: float


async def _started(fake: FakeApi, proc: Proc, within: float = 60.0) -> float:
    """Seconds from spawning the process to the fake seeing its first getUpdates (it is ready for updates)."""
    try:
        seen = await fake.wait_first("getUpdates", within)
    except TimeoutError:
        await proc.stop()
        raise RuntimeError(f"{proc.name} never polled; see its log") from None
    return seen - proc.started_at


async def _spawn_bot(fake: FakeApi, work: pathlib.Path, name: str, database: pathlib.Path, whatif: str = "",
                     **env: str) -> tuple[Proc, float]:
    await fake.reset()
    command = [*hocvuso_command(), "run"]
    if whatif:  # the same CLI, with a proposed change applied first (benchmarks/whatif.py)
        command = [sys.executable, "-m", "benchmarks.whatif", "run"]
        env = {**env, "HOCVUSO_BENCH_WHATIF": whatif, "PYTHONPATH": str(ROOT),
               "HOCVUSO_BENCH_SQL_COUNTS": str(work / f"{name}-sql.json")}
    proc = await Proc.spawn(name, command, env=botdb.bot_env(fake.root, TOKEN, database, **env), cwd=work,
                            log=work / f"{name}.log")
    return proc, await _started(fake, proc)


def _cpu(proc: Proc) -> float:
    return proc.cpu_seconds() or 0.0


def _own_cpu() -> float:
    """This driver's CPU seconds (it must not be what limits the run)."""
    times = os.times()
    return times.user + times.system


async def engine(fake: FakeApi, work: pathlib.Path, load: Load, profile: pathlib.Path | None,
                 whatif: str = "", paced: bool = True) -> dict[str, Any]:
    """The engine through its Telegram channel: a saturated phase, then (if `paced`) a paced one for latency."""
    users = list(range(LEARNER_BASE, LEARNER_BASE + load.people))
    name = f"engine-{whatif}" if whatif else "engine"
    database = work / f"{name}.db"
    await botdb.prepare(database, users)
    proc, startup = await _spawn_bot(fake, work, name, database, whatif)
    first_call = min(fake.first_calls.values()) - proc.started_at
    try:
        crowd = Crowd(fake, lesson_cycle(), users, "buttons")
        warm = await crowd.saturate(load.people * load.warmup_per_person, stall_after=load.stall_after)
        if profile is not None:
            await proc.profile(profile)
        cpu, fake_cpu, own = _cpu(proc), (await fake.stats())["cpu_seconds"], _own_cpu()
        saturated = await crowd.saturate(load.updates, stall_after=load.stall_after)
        fake_stats = await fake.stats()
        bot_cpu, own = _cpu(proc) - cpu, _own_cpu() - own
        latency = await crowd.paced(load.rate, load.latency_seconds, stall_after=load.stall_after) if paced else None
        peak = proc.peak_rss_mb()
    finally:
        code = await proc.stop()
    calls = fake_stats["methods"]
    counted_updates = max(1, warm.answered + saturated.answered)  # the calls were counted since the fake's reset
    result = {"startup_s": round(startup, 3), "first_api_call_s": round(first_call, 3),
              "saturated": saturated.summary(), "latency": latency.summary() if latency else None, "peak_rss_mb": peak,
              "exit_code": code,
              "bot_cpu_share": round(bot_cpu / saturated.seconds, 2) if saturated.seconds else None,
              "fake_cpu_share": round((fake_stats["cpu_seconds"] - fake_cpu) / saturated.seconds, 2),
              "driver_cpu_share": round(own / saturated.seconds, 2),
              "bot_cpu_ms_per_update": round(bot_cpu * 1000 / max(1, saturated.answered), 2),
              "api_calls_per_update": round(sum(n for m, n in calls.items() if m != "getUpdates") / counted_updates, 2),
              "calls_per_update": {m: round(n / counted_updates, 2) for m, n in sorted(calls.items())}}
    counted = work / f"{name}-sql.json"
    if "count-sql" in whatif and counted.exists():
        sql = json.loads(counted.read_text())
        handled = warm.answered + saturated.answered + (latency.answered if latency else 0)
        result["sql_per_update"] = {k: round(v / handled, 2) for k, v in sorted(sql["counts"].items())}
        result["sql_ms_per_update"] = {k: round(v * 1000 / handled, 2) for k, v in sorted(sql["seconds"].items())}
    return result


async def baseline(fake: FakeApi, work: pathlib.Path, load: Load, transport: str = "httpx") -> dict[str, Any]:
    """The bare python-telegram-bot echo bot under the same saturated load (same people, same updates); with
    transport "aiohttp", on the engine's own HTTP backend."""
    await fake.reset()
    name = "baseline" if transport == "httpx" else f"baseline-{transport}"
    proc = await Proc.spawn(name, [sys.executable, "-m", "benchmarks.echo_bot", "--api", fake.root,
                                   "--token", TOKEN, "--transport", transport], cwd=ROOT, log=work / f"{name}.log")
    try:
        startup = await _started(fake, proc)
        users = list(range(LEARNER_BASE, LEARNER_BASE + load.people))
        crowd = Crowd(fake, lesson_cycle(), users, "first")
        await crowd.saturate(load.people * load.warmup_per_person, stall_after=load.stall_after)
        cpu, fake_cpu, own = _cpu(proc), (await fake.stats())["cpu_seconds"], _own_cpu()
        saturated = await crowd.saturate(load.updates, stall_after=load.stall_after)
        fake_stats = await fake.stats()
        bot_cpu, own = _cpu(proc) - cpu, _own_cpu() - own
        peak = proc.peak_rss_mb()
    finally:
        code = await proc.stop()
    return {"startup_s": round(startup, 3), "saturated": saturated.summary(), "peak_rss_mb": peak, "exit_code": code,
            "bot_cpu_share": round(bot_cpu / saturated.seconds, 2) if saturated.seconds else None,
            "fake_cpu_share": round((fake_stats["cpu_seconds"] - fake_cpu) / saturated.seconds, 2),
            "driver_cpu_share": round(own / saturated.seconds, 2),
            "bot_cpu_ms_per_update": round(bot_cpu * 1000 / max(1, saturated.answered), 2)}


async def fresh_startup(fake: FakeApi, work: pathlib.Path) -> dict[str, Any]:
    """`hocvuso run` on a database that does not exist yet (migrations run first)."""
    proc, startup = await _spawn_bot(fake, work, "fresh", work / "fresh.db")
    code = await proc.stop()
    return {"startup_s": round(startup, 3), "exit_code": code}


async def startup(fake: FakeApi, work: pathlib.Path, runs: int) -> dict[str, Any]:
    """Start-up alone, `runs` times each on an already-migrated database and on a new file, alternating, so
    that other load on a shared machine touches both alike. Seconds from spawning to the first getUpdates, and
    the bot's CPU seconds by then (user + system: less sensitive than wall time to other load on the machine)."""
    migrated_db, new_db = work / "startup-migrated.db", work / "startup-new.db"
    await botdb.prepare(migrated_db, [LEARNER_BASE])
    migrated: list[float] = []
    new: list[float] = []
    cpu: dict[str, list[float]] = {"migrated": [], "new": []}
    loads: list[float] = []
    codes: list[int | None] = []
    for run in range(runs):
        for name, database, into in (("migrated", migrated_db, migrated), ("new", new_db, new)):
            botdb.remove(new_db)
            loads.append(os.getloadavg()[0])
            proc, seconds = await _spawn_bot(fake, work, f"startup-{name}-{run}", database)
            cpu[name].append(round(_cpu(proc), 2))
            codes.append(await proc.stop())
            into.append(round(seconds, 3))
    return {"runs": runs, "migrated_s": migrated, "new_s": new,
            "migrated_median_s": round(statistics.median(migrated), 3),
            "new_median_s": round(statistics.median(new), 3),
            "migrated_cpu_s": cpu["migrated"], "new_cpu_s": cpu["new"],
            "migrated_cpu_median_s": round(statistics.median(cpu["migrated"]), 2),
            "new_cpu_median_s": round(statistics.median(cpu["new"]), 2),
            "loadavg_1min": [round(min(loads), 2), round(max(loads), 2)], "exit_codes": sorted(set(codes), key=str)}


class _Replies:
    """Replies to chosen chats as the fake receives them."""

    def __init__(self, fake: FakeApi) -> None:
        self.fake = fake
        self.events: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()
        fake.listeners.append(self._event)

    def _event(self, event: dict[str, Any]) -> None:
        if event["m"] in REPLIES and event["s"] == 200:
            self.events.append(event)
            self.arrived.set()

    def close(self) -> None:
        self.fake.listeners.remove(self._event)

    async def wait(self, predicate: Any, within: float) -> None:
        deadline = time.monotonic() + within
        while not predicate():
            self.arrived.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no such reply")
            try:
                await asyncio.wait_for(self.arrived.wait(), timeout=min(left, 1.0))
            except TimeoutError:
                pass

    async def ask(self, user: int, spec: dict[str, object], within: float = 30.0) -> list[str]:
        """Send one update from `user` and wait for a reply with buttons (or any reply); its buttons."""
        before = len(self.events)
        await self.fake.send([{"user": user, **spec}])

        def answered() -> bool:
            return any(e["chat"] == user for e in self.events[before:])

        await self.wait(answered, within)
        await asyncio.sleep(0.2)  # the rest of the answer
        return [b for e in self.events[before:] if e["chat"] == user for b in e.get("kb") or [] if b]


async def broadcast(fake: FakeApi, work: pathlib.Path, recipients: int, per_second: float = 30.0) -> dict[str, Any]:
    """An official announces to `recipients` people; the fake answers 429 past 30 sendMessage/s, like Telegram."""
    users = list(range(RECIPIENT_BASE, RECIPIENT_BASE + recipients))
    database = work / "broadcast.db"
    await botdb.prepare(database, users, officials=[OFFICIAL])
    proc, startup = await _spawn_bot(fake, work, "broadcast", database,
                                     HOCVUSO_BROADCAST_PER_SECOND=str(per_second))
    await fake.control("limits", {"sendMessage": 30})
    replies = _Replies(fake)
    try:
        await replies.ask(OFFICIAL, {"text": "/thongbao"})
        await replies.ask(OFFICIAL, {"data": "bcto:all"})
        buttons = await replies.ask(OFFICIAL, {"text": "Tối nay 19 giờ họp thôn ở nhà văn hóa."})
        confirm = next(b for b in buttons if b.startswith("bcsend:"))
        before = len(replies.events)
        confirmed_at = time.monotonic()
        await fake.send([{"user": OFFICIAL, "data": confirm}])
        wanted = set(users)

        def reached() -> set[int]:
            return {e["chat"] for e in replies.events[before:] if e["chat"] in wanted and "📣" in e.get("text", "")}

        try:
            await replies.wait(lambda: len(reached()) == recipients, recipients / per_second * 2 + 30)
        except TimeoutError:
            pass
        sends = [e for e in replies.events[before:] if e["chat"] in wanted and "📣" in e.get("text", "")]
        stats = await fake.stats()
    finally:
        replies.close()
        code = await proc.stop()
    delivered = len({e["chat"] for e in sends})
    first, last = (min(e["at"] for e in sends), max(e["at"] for e in sends)) if sends else (0.0, 0.0)
    rate = delivered / (last - confirmed_at) if sends and last > confirmed_at else 0.0
    return {"recipients": recipients, "delivered": delivered, "limit_per_second": 30, "setting": per_second,
            "rate_per_second": round(rate, 2), "rate_of_limit": round(rate / 30, 3),
            "span_s": round(last - first, 2), "throttled_429": stats["throttled"], "max_in_any_second":
            _max_window([e["at"] for e in sends]), "startup_s": round(startup, 3), "exit_code": code}


def _max_window(times: list[float], window: float = 1.0) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, at in enumerate(times):
        while times[start] <= at - window:
            start += 1
        best = max(best, end - start + 1)
    return best


def combine(turns: list[dict[str, Any]]) -> dict[str, Any]:
    """One bot's turns as one result: updates/s over all of them (every update over all the measured seconds),
    CPU shares and per update weighted by time and updates, the slowest p99, the highest RSS; the paced figures
    and start-up of the turn that had them. Each turn's own rate and CPU are kept under "turns"."""
    if len(turns) == 1:
        return turns[0]
    merged = dict(turns[-1])
    runs = [turn["saturated"] for turn in turns]
    answered, seconds = sum(r["answered"] for r in runs), sum(r["seconds"] for r in runs)
    saturated = dict(runs[-1])
    saturated.update(answered=answered, seconds=round(seconds, 3), per_second=round(answered / seconds, 1),
                     p50_ms=statistics.median(r["p50_ms"] for r in runs), p99_ms=max(r["p99_ms"] for r in runs),
                     max_ms=max(r["max_ms"] for r in runs), off_script=sum(r["off_script"] for r in runs),
                     stalled=sum(r["stalled"] for r in runs))
    merged["saturated"] = saturated
    for key in ("bot_cpu_share", "fake_cpu_share", "driver_cpu_share"):
        merged[key] = round(sum(t[key] * t["saturated"]["seconds"] for t in turns) / seconds, 2)
    merged["bot_cpu_ms_per_update"] = round(
        sum(t["bot_cpu_ms_per_update"] * t["saturated"]["answered"] for t in turns) / answered, 2)
    merged["peak_rss_mb"] = max(t["peak_rss_mb"] for t in turns if t.get("peak_rss_mb") is not None)
    merged["startup_s"] = turns[0]["startup_s"]
    merged["latency"] = next((t["latency"] for t in turns if t.get("latency")), None)
    merged["exit_code"] = next((t["exit_code"] for t in turns if t["exit_code"]), 0)
    merged["turns"] = [{"per_second": t["saturated"]["per_second"], "bot_cpu_ms_per_update":
                        t["bot_cpu_ms_per_update"]} for t in turns]
    return merged
