"""`python -m benchmarks.workers`: `hocvuso run --workers N` behind webhooks on PostgreSQL, for several N.

    python -m benchmarks.workers --workers 1,2,4            # 200 people, 3,000 updates per run
    python -m benchmarks.workers --workers 1,2,4 --repeat 3 --json workers.json   # interleaved: 1,2,4,1,2,4,…
    python -m benchmarks.workers --quick                     # a smoke test: 1 and 2 workers, 10 people, 60 updates
    python -m benchmarks.workers --broadcast 600             # also an announcement to 600 people with each N

For each run: a fresh PostgreSQL database (HOCVUSO_TEST_PG names the server, default the test one), `hocvuso db
upgrade`, onboarded people inserted directly, then `hocvuso run --workers N` in Telegram webhook mode against the
fake Bot API (its own process). The driver POSTs each person's next update of the lesson script (benchmarks/script.py)
to the webhook with the secret header as soon as the reply carrying that update's buttons reaches the fake
(saturated: one outstanding update per person), through at most --connections connections at once (Telegram's
default max_connections is 40), each a new TCP connection as from nginx without upstream keep-alive, so SO_REUSEPORT
spreads them over the workers.

Latency is from the POST to the first reply reaching the fake (both CLOCK_MONOTONIC). Every reply is audited: the
replies that arrive between one update and the next of the same person must be exactly what that step of the
lesson gives (the most common count for that step), so a missing or doubled message shows as lost or duplicate.

With --broadcast, an official seeded with the recipients announces to all of them through the webhook while the fake
refuses (429) a 31st sendMessage within one second, as Telegram does: delivered, sent twice, 429s, messages/s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import pathlib
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url

import bot
from benchmarks import botdb, report
from benchmarks.fake import TOKEN, FakeApi
from benchmarks.load import REPLIES, PhaseResult
from benchmarks.procs import Proc, hocvuso_command
from benchmarks.script import Move, lesson_cycle
from bot.settings import Settings
from tests.fakes.telegram_api import FakeTelegram

PG_ADMIN = os.environ.get("HOCVUSO_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
SECRET = "bench-webhook-secret-3f9a1c7e5b"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
LEARNER_BASE = 100_001
LOG_PROBLEMS = re.compile(r"\b(ERROR|CRITICAL)\b|Traceback")


@dataclass(frozen=True)
class Config:
    workers: list[int]
    people: int
    updates: int
    warmup_per_person: int
    connections: int
    repeat: int
    stall_after: float
    tail: float  # seconds to wait after the last answer for stray (duplicate) replies
    pg_admin: str
    quick: bool
    broadcast: int = 0  # recipients of a broadcast run per worker count (0: none)
    broadcast_pace: float | None = None  # HOCVUSO_BROADCAST_PER_SECOND of that run (None: the app's default)


# ---- PostgreSQL -------------------------------------------------------------------------------------


def database_url(admin: str, name: str) -> str:
    """The bot's URL of database `name` on the server `admin` points to."""
    url = make_url(admin).set(drivername="postgresql+asyncpg", database=name)
    return url.render_as_string(hide_password=False)


async def create_database(admin: str) -> str:
    name = f"hocvuso_bench_{uuid.uuid4().hex[:10]}"
    connection = await asyncpg.connect(admin, timeout=10)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return name


async def drop_database(admin: str, name: str, attempts: int = 5) -> None:
    """Drop it, trying again for a while when a shared server has no connection free (then it says which is left)."""
    for attempt in range(attempts):
        try:
            connection = await asyncpg.connect(admin, timeout=10)
        except asyncpg.TooManyConnectionsError:
            if attempt + 1 == attempts:
                print(f"database {name} left behind: the server has no connection free", file=sys.stderr)
                raise
            await asyncio.sleep(2.0)
            continue
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()
        return


@dataclass
class PgWatch:
    """The server processes serving database `name` (the bot's pools), sampled twice a second: how many at most,
    and the CPU they used (a backend that comes and goes between samples is missed)."""

    admin: str
    name: str
    peak: int = 0
    cpu: dict[int, float] = field(default_factory=dict)  # the latest reading of each backend seen
    marked: dict[int, float] = field(default_factory=dict)

    async def run(self) -> None:
        connection = await asyncpg.connect(self.admin, timeout=10)
        try:
            while True:
                rows = await connection.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", self.name)
                self.peak = max(self.peak, len(rows))
                self.cpu.update(cpu_of([int(row["pid"]) for row in rows]))
                await asyncio.sleep(0.5)
        finally:
            await connection.close()

    def mark(self) -> None:
        self.marked = dict(self.cpu)

    def used(self) -> float:
        return used_since(self.marked, self.cpu)


async def leftovers(admin: str, name: str) -> dict[str, int]:
    """After the run: outbox rows never delivered, and the update keys recorded (each update exactly once)."""
    connection = await asyncpg.connect(make_url(admin).set(database=name).render_as_string(hide_password=False),
                                       timeout=10)
    try:
        outbox = await connection.fetchval("SELECT count(*) FROM outbox")
        keys = await connection.fetchval("SELECT count(*) FROM inbox_keys")
    finally:
        await connection.close()
    return {"outbox_left": int(outbox), "inbox_keys": int(keys)}


# ---- CPU of process trees ----------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in pathlib.Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found += [int(child) for child in task.read_text().split()]
    return found


def tree(pid: int) -> list[int]:
    """`pid` and all its descendants (the supervisor and its workers)."""
    pids, queue = [], [pid]
    while queue:
        current = queue.pop()
        pids.append(current)
        queue += _children(current)
    return pids


def cpu_of(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each process still there (Linux /proc)."""
    seconds: dict[int, float] = {}
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            seconds[pid] = (int(fields[11]) + int(fields[12])) / (os.sysconf("SC_CLK_TCK") or 100)
    return seconds


def used_since(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two readings; a process that appeared meanwhile counts from zero."""
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())


def loadavg() -> list[float]:
    try:
        return [float(x) for x in pathlib.Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


# ---- the bot ------------------------------------------------------------------------------------------


def bot_env(fake: FakeApi, url: str, port: int) -> dict[str, str]:
    """benchmarks/botdb.py's environment (lifted flood control, real lessons), on PostgreSQL, webhook mode."""
    return botdb.bot_env(fake.root, TOKEN, pathlib.Path("unused.db"), HOCVUSO_DATABASE_URL=url,
                         HOCVUSO_PORT=str(port), HOCVUSO_PUBLIC_URL=f"http://127.0.0.1:{port}",
                         HOCVUSO_WEBHOOK_SECRET=SECRET)


async def db_upgrade(env: dict[str, str], work: pathlib.Path) -> float:
    """`hocvuso db upgrade`, as an operator runs it before starting the workers; its seconds."""
    started = time.monotonic()
    proc = await Proc.spawn("upgrade", [*hocvuso_command(), "db", "upgrade"], env=env, cwd=work,
                            log=work / "upgrade.log")
    if await proc.process.wait() != 0:
        raise RuntimeError(f"hocvuso db upgrade failed: {tail(work / 'upgrade.log')}")
    return time.monotonic() - started


async def start_bot(fake: FakeApi, env: dict[str, str], workers: int, work: pathlib.Path,
                    within: float = 90.0) -> tuple[Proc, float]:
    """Spawn `hocvuso run --workers N`; ready when each worker has registered its webhook (after its server is up)."""
    await fake.reset()
    log = work / f"bot-{workers}.log"
    proc = await Proc.spawn(f"bot-{workers}", [*hocvuso_command(), "run", "--workers", str(workers)], env=env,
                            cwd=work, log=log)
    deadline = time.monotonic() + within
    while fake.by_method.get("setWebhook", 0) < workers:
        if not proc.alive() or time.monotonic() > deadline:
            await stop_bot(proc)
            raise RuntimeError(f"{workers} worker(s) never all set the webhook: {tail(log)}")
        await asyncio.sleep(0.05)
    return proc, time.monotonic() - proc.started_at


async def stop_bot(proc: Proc, grace: float = 30.0) -> int | None:
    """SIGTERM to the supervisor (it forwards it to the workers); after `grace` seconds SIGKILL to the whole process
    group, workers included. The exit code; None when it had to be killed."""
    with contextlib.suppress(ProcessLookupError):
        proc.process.send_signal(signal.SIGTERM)
    try:
        return await asyncio.wait_for(proc.process.wait(), grace)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.process.wait()
        return None


def tail(log: pathlib.Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def log_problems(log: pathlib.Path) -> list[str]:
    """Lines of the bot's log that report an error (handler failures, tracebacks)."""
    try:
        return [line for line in log.read_text(errors="replace").splitlines() if LOG_PROBLEMS.search(line)]
    except OSError:
        return []


# ---- the driver: webhook POSTs, replies audited --------------------------------------------------------


@dataclass
class Window:
    """One update of one person and every reply that reached the fake until that person's next update."""

    position: int
    first_cycle: bool
    sent_at: float
    replies: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # (text, buttons)
    first_at: float | None = None
    answered_at: float | None = None
    posted_at: float | None = None  # when the webhook answered the POST (the update was committed)


@dataclass
class Learner:
    user: int
    sent: int = 0  # updates sent so far
    window: Window | None = None
    done: list[Window] = field(default_factory=list)

    @property
    def waiting(self) -> bool:
        return self.window is not None and self.window.answered_at is None


@dataclass
class Driver:
    fake: FakeApi
    http: aiohttp.ClientSession
    webhook: str
    cycle: list[Move]
    learners: dict[int, Learner]
    factory: FakeTelegram = field(default_factory=FakeTelegram)  # only builds the updates' JSON
    http_errors: Counter[str] = field(default_factory=Counter)
    off_script: int = 0
    answered: int = 0
    _budget: int = 0  # updates still to send in the current phase
    _progress: asyncio.Event = field(default_factory=asyncio.Event)
    _posts: set[asyncio.Task[None]] = field(default_factory=set)
    _latencies: list[float] = field(default_factory=list)

    def on_event(self, event: dict[str, Any]) -> None:
        if event["m"] not in REPLIES or event["s"] != 200:
            return
        learner = self.learners.get(event["chat"])
        if learner is None or learner.window is None:
            return
        window = learner.window
        buttons = tuple(b for b in event.get("kb") or [] if b)
        window.replies.append((str(event.get("text", "")), buttons))
        if window.answered_at is not None:
            return  # a stray reply: the audit counts it
        if window.first_at is None:
            window.first_at = float(event["at"])
        if buttons:
            self._answer(learner, window, buttons, float(event["at"]))

    def _answer(self, learner: Learner, window: Window, buttons: tuple[str, ...], at: float) -> None:
        expect = self.cycle[(window.position + 1) % len(self.cycle)].expect  # the button pressed next
        if expect is not None and not any(b.startswith(expect) for b in buttons):
            self.off_script += 1
        window.answered_at = at
        self.answered += 1
        if window.first_at is not None:
            self._latencies.append(window.first_at - window.sent_at)
        self._progress.set()
        if self._budget > 0:
            self.send(learner)

    def send(self, learner: Learner) -> None:
        self._budget -= 1
        if learner.window is not None:
            learner.done.append(learner.window)
        position = learner.sent % len(self.cycle)
        learner.window = Window(position, learner.sent < len(self.cycle), time.monotonic())
        learner.sent += 1
        kind, value = self.cycle[position].spec
        update = (self.factory.callback_update(learner.user, value) if kind == "data"
                  else self.factory.text_update(learner.user, value))
        task = asyncio.create_task(self._post(update, learner.window))
        self._posts.add(task)
        task.add_done_callback(self._posts.discard)

    async def _post(self, update: dict[str, Any], window: Window) -> None:
        try:
            async with self.http.post(self.webhook, json=update, headers={SECRET_HEADER: SECRET}) as response:
                await response.read()
                window.posted_at = time.monotonic()
                if response.status != 200:
                    self.http_errors[f"HTTP {response.status}"] += 1
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.http_errors[type(exc).__name__] += 1

    def waiting(self) -> int:
        return sum(1 for learner in self.learners.values() if learner.waiting)

    async def settle(self) -> None:
        """Wait for the POSTs still in flight."""
        await asyncio.gather(*list(self._posts), return_exceptions=True)

    async def saturate(self, total: int, stall_after: float) -> PhaseResult:
        """Everyone at once, each next update as soon as the last is answered, `total` updates answered."""
        self._latencies, started, answered = [], time.monotonic(), self.answered
        self._budget = total
        for learner in list(self.learners.values()):
            if self._budget <= 0:
                break
            self.send(learner)
        stalled = await self._until_answered(stall_after)
        seconds = time.monotonic() - started
        return PhaseResult(self.answered - answered, seconds, list(self._latencies), self.off_script, stalled)

    async def _until_answered(self, stall_after: float) -> int:
        """Wait until nobody waits; the number still waiting when no answer came for `stall_after` seconds."""
        last, seen = time.monotonic(), self.answered
        while self.waiting():
            self._progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), timeout=1.0)
            if self.answered != seen:
                last, seen = time.monotonic(), self.answered
            elif time.monotonic() - last > stall_after:
                return self.waiting()
        return 0

    def windows(self) -> list[Window]:
        return [w for learner in self.learners.values()
                for w in [*learner.done, *([learner.window] if learner.window is not None else [])]]


def audit(windows: list[Window]) -> dict[str, Any]:
    """Replies per update against what that step gives: lost and duplicate replies, unanswered updates.

    What a step gives is the most common number of replies for it (the first pass through the lesson apart from
    later ones, which may differ); a reply twice with the same text and buttons inside one update's window also
    counts as a duplicate."""
    counts: dict[tuple[int, bool], Counter[int]] = {}
    for w in windows:
        if w.answered_at is not None:
            counts.setdefault((w.position, w.first_cycle), Counter())[len(w.replies)] += 1
    expected = {key: counter.most_common(1)[0][0] for key, counter in counts.items()}
    lost = duplicate = repeated = unanswered = 0
    for w in windows:
        want = expected.get((w.position, w.first_cycle), 0)
        lost += max(0, want - len(w.replies))
        duplicate += max(0, len(w.replies) - want)
        repeated += len(w.replies) - len(set(w.replies))
        unanswered += w.answered_at is None
    return {"updates": len(windows), "replies": sum(len(w.replies) for w in windows), "lost_replies": lost,
            "duplicate_replies": max(duplicate, repeated), "repeated_in_window": repeated,
            "unanswered_updates": unanswered,
            "replies_per_step": {f"{p}{'' if first else '+'}": n for (p, first), n in sorted(expected.items())}}


# ---- one run ------------------------------------------------------------------------------------------


@dataclass
class Measured:
    saturated: PhaseResult
    bot_cpu: float
    pg_cpu: float
    driver_cpu: float
    load_before: list[float]
    load_after: list[float]


async def drive(fake: FakeApi, cfg: Config, port: int, bot: Proc, watch: PgWatch) -> tuple[Driver, Measured]:
    users = list(range(LEARNER_BASE, LEARNER_BASE + cfg.people))
    connector = aiohttp.TCPConnector(limit=cfg.connections, force_close=True)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as http:
        driver = Driver(fake, http, f"http://127.0.0.1:{port}/telegram/webhook", lesson_cycle(),
                        {user: Learner(user) for user in users})
        fake.listeners.append(driver.on_event)
        try:
            await driver.saturate(cfg.people * cfg.warmup_per_person, cfg.stall_after)
            measured = await _measure(driver, cfg, bot, watch)
            await asyncio.sleep(cfg.tail)  # any stray duplicate arrives now
        finally:
            fake.listeners.remove(driver.on_event)
        await driver.settle()
    return driver, measured


async def _measure(driver: Driver, cfg: Config, bot: Proc, watch: PgWatch) -> Measured:
    await asyncio.sleep(0.6)  # a fresh sample of the backends
    watch.mark()
    bot_before, own_before, load_before = cpu_of(tree(bot.pid)), _own_cpu(), loadavg()
    saturated = await driver.saturate(cfg.updates, cfg.stall_after)
    bot_cpu, own = used_since(bot_before, cpu_of(tree(bot.pid))), _own_cpu() - own_before
    await asyncio.sleep(0.6)
    return Measured(saturated, bot_cpu, watch.used(), own, load_before, loadavg())


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


async def one_run(fake: FakeApi, cfg: Config, workers: int, work: pathlib.Path) -> dict[str, Any]:
    """A fresh database, `db upgrade`, seeded people, N workers, the saturated lesson script; the figures."""
    await asyncio.to_thread(work.mkdir, parents=True)
    db_name = await create_database(cfg.pg_admin)
    port = botdb.free_port()
    env = bot_env(fake, database_url(cfg.pg_admin, db_name), port)
    try:
        upgrade_s = await db_upgrade(env, work)
        await botdb.seed_people(env["HOCVUSO_DATABASE_URL"], list(range(LEARNER_BASE, LEARNER_BASE + cfg.people)))
        figures = await serve_and_drive(fake, cfg, workers, work, env, db_name)
        database = await leftovers(cfg.pg_admin, db_name)
    finally:
        await drop_database(cfg.pg_admin, db_name)
    figures["lost_replies"] += database["outbox_left"]
    return figures | {"database": database, "upgrade_s": round(upgrade_s, 2)}


async def serve_and_drive(fake: FakeApi, cfg: Config, workers: int, work: pathlib.Path, env: dict[str, str],
                          db_name: str) -> dict[str, Any]:
    """`hocvuso run --workers N` under the load, watched; stopped (SIGTERM) at the end."""
    bot, startup_s = await start_bot(fake, env, workers, work)
    watch = PgWatch(cfg.pg_admin, db_name)
    watching = asyncio.create_task(watch.run())
    try:
        driver, measured = await drive(fake, cfg, int(env["HOCVUSO_PORT"]), bot, watch)
    finally:
        code = await stop_bot(bot)
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
    figures = summarise(workers, driver, measured, code, log_problems(work / f"bot-{workers}.log"))
    return figures | {"peak_pg_connections": watch.peak, "startup_s": round(startup_s, 2)}


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (nearest rank), rounded to 0.1; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))], 1)


def summarise(workers: int, driver: Driver, m: Measured, code: int | None, problems: list[str]
              ) -> dict[str, Any]:
    """The run's figures: the saturated phase's rate and first-reply latencies; the audit, the time to the answer
    with buttons and the webhook's own response time over every update (warm-up included)."""
    sat, seconds = m.saturated, m.saturated.seconds or 1.0
    windows = driver.windows()
    checked = audit(windows)
    answer_ms = [(w.answered_at - w.sent_at) * 1000 for w in windows if w.answered_at is not None]
    webhook_ms = [(w.posted_at - w.sent_at) * 1000 for w in windows if w.posted_at is not None]
    errors = sum(driver.http_errors.values()) + len(problems) + driver.off_script + (code != 0)
    return {
        "workers": workers, "saturated": sat.summary(),
        "answer_p99_ms": percentile(answer_ms, 99),
        "webhook_p50_ms": percentile(webhook_ms, 50), "webhook_p99_ms": percentile(webhook_ms, 99),
        "errors": errors, "http_errors": dict(driver.http_errors), "log_errors": len(problems),
        "log_error_lines": problems[:20], "off_script": driver.off_script, "exit_code": code,
        "lost_replies": checked["lost_replies"],
        "duplicate_replies": checked["duplicate_replies"], "unanswered_updates": checked["unanswered_updates"],
        "audit": checked,
        "bot_cpu_share": round(m.bot_cpu / seconds, 2), "pg_cpu_share": round(m.pg_cpu / seconds, 2),
        "driver_cpu_share": round(m.driver_cpu / seconds, 2),
        "bot_cpu_ms_per_update": round(m.bot_cpu * 1000 / max(1, sat.answered), 2),
        "pg_cpu_ms_per_update": round(m.pg_cpu * 1000 / max(1, sat.answered), 2),
        "loadavg_before": m.load_before, "loadavg_after": m.load_after}


# ---- a broadcast with N workers --------------------------------------------------------------------------

OFFICIAL = 9_001
RECIPIENT_BASE = 500_001
ANNOUNCEMENT = "Tối nay 19 giờ họp thôn ở nhà văn hóa."


@dataclass
class Official:
    """An official going through /thongbao over the webhook; every sendMessage the fake receives is kept."""

    fake: FakeApi
    http: aiohttp.ClientSession
    webhook: str
    events: list[dict[str, Any]] = field(default_factory=list)
    factory: FakeTelegram = field(default_factory=FakeTelegram)

    def on_event(self, event: dict[str, Any]) -> None:
        if event["m"] == "sendMessage":
            self.events.append(event)

    async def post(self, update: dict[str, Any]) -> None:
        async with self.http.post(self.webhook, json=update, headers={SECRET_HEADER: SECRET}) as response:
            if response.status != 200:
                raise RuntimeError(f"the webhook answered {response.status}: {await response.text()}")

    async def ask(self, update: dict[str, Any], within: float = 60.0) -> list[str]:
        """Post one update of the official; the buttons of the answer, once a reply with buttons came."""
        before = len(self.events)
        await self.post(update)
        deadline = time.monotonic() + within
        while not any(e.get("kb") for e in self._mine(before)):
            if time.monotonic() > deadline:
                raise TimeoutError("the official got no answer with buttons")
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # the rest of the answer
        return [b for e in self._mine(before) for b in e.get("kb") or [] if b]

    def _mine(self, since: int) -> list[dict[str, Any]]:
        return [e for e in self.events[since:] if e["chat"] == OFFICIAL and e["s"] == 200]

    async def announce(self) -> float:
        """/thongbao to everyone, the text, confirm; when the confirmation was posted."""
        await self.ask(self.factory.text_update(OFFICIAL, "/thongbao"))
        await self.ask(self.factory.callback_update(OFFICIAL, "bcto:all"))
        buttons = await self.ask(self.factory.text_update(OFFICIAL, ANNOUNCEMENT))
        confirm = next(b for b in buttons if b.startswith("bcsend:"))
        confirmed = time.monotonic()
        await self.post(self.factory.callback_update(OFFICIAL, confirm))
        return confirmed

    def announcements(self, recipients: set[int]) -> list[dict[str, Any]]:
        return [e for e in self.events if e["chat"] in recipients and e["s"] == 200 and "📣" in e.get("text", "")]


async def broadcast_run(fake: FakeApi, cfg: Config, workers: int, work: pathlib.Path) -> dict[str, Any]:
    """An announcement to cfg.broadcast people with N workers; the fake refuses (429) a 31st sendMessage within a
    second, as Telegram does: how many got it, once each, how fast, how many 429s."""
    await asyncio.to_thread(work.mkdir, parents=True)
    db_name = await create_database(cfg.pg_admin)
    port = botdb.free_port()
    env = bot_env(fake, database_url(cfg.pg_admin, db_name), port)
    if cfg.broadcast_pace is not None:
        env["HOCVUSO_BROADCAST_PER_SECOND"] = str(cfg.broadcast_pace)
    recipients = list(range(RECIPIENT_BASE, RECIPIENT_BASE + cfg.broadcast))
    try:
        await db_upgrade(env, work)
        await botdb.seed_people(env["HOCVUSO_DATABASE_URL"], recipients, officials=(OFFICIAL,))
        bot, _ = await start_bot(fake, env, workers, work)
        try:
            figures = await _announce(fake, cfg, port, set(recipients))
        finally:
            code = await stop_bot(bot)
    finally:
        await drop_database(cfg.pg_admin, db_name)
    return figures | {"workers": workers, "exit_code": code,
                      "log_errors": len(log_problems(work / f"bot-{workers}.log")),
                      "setting": cfg.broadcast_pace or Settings.model_fields["broadcast_per_second"].default}


async def _announce(fake: FakeApi, cfg: Config, port: int, recipients: set[int]) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http:
        official = Official(fake, http, f"http://127.0.0.1:{port}/telegram/webhook")
        fake.listeners.append(official.on_event)
        try:
            await fake.control("limits", {"sendMessage": 30})
            confirmed = await official.announce()
            deadline = confirmed + len(recipients) / 10 + 60
            while len({e["chat"] for e in official.announcements(recipients)}) < len(recipients):
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            await asyncio.sleep(cfg.tail)  # a repeat would arrive now
            stats = await fake.stats()
        finally:
            fake.listeners.remove(official.on_event)
    sends = official.announcements(recipients)
    each = Counter(e["chat"] for e in sends)
    last = max((e["at"] for e in sends), default=confirmed)
    return {"recipients": len(recipients), "delivered": len(each), "sent_twice": sum(1 for n in each.values() if n > 1),
            "throttled_429": stats["throttled"],
            "rate_per_second": round(len(each) / (last - confirmed), 1) if last > confirmed else 0.0,
            "max_in_any_second": max_in_window([float(e["at"]) for e in official.events if e["s"] == 200])}


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """The most of these instants inside any `window` seconds."""
    ordered, best, start = sorted(times), 0, 0
    for end, at in enumerate(ordered):
        while ordered[start] <= at - window:
            start += 1
        best = max(best, end - start + 1)
    return best


# ---- the command --------------------------------------------------------------------------------------


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.workers", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", help="comma-separated worker counts (default 1,2,4; quick 1,2)")
    parser.add_argument("--quick", action="store_true", help="small and fast: 10 people, 60 updates, 1 and 2 workers")
    parser.add_argument("--people", type=int, help="simulated people (default 200; quick 10)")
    parser.add_argument("--updates", type=int,
                        help="measured updates per run (default 3,000; quick 60; 0: only the broadcast runs)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured updates per person first (default 1)")
    parser.add_argument("--connections", type=int, default=40,
                        help="webhook requests in flight at most (default 40, Telegram's max_connections default)")
    parser.add_argument("--repeat", type=int, default=1, help="run the whole series this many times, interleaved")
    parser.add_argument("--broadcast", type=int, default=0, metavar="RECIPIENTS",
                        help="also an announcement to this many people with each worker count (default none)")
    parser.add_argument("--broadcast-per-second", type=float,
                        help="HOCVUSO_BROADCAST_PER_SECOND of the broadcast runs (default the app's)")
    parser.add_argument("--pg", default=PG_ADMIN, help="an existing database on the server (default %(default)s)")
    parser.add_argument("--json", type=pathlib.Path, help="write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (process logs)")
    return parser.parse_args(argv)


def config(args: argparse.Namespace) -> Config:
    quick = bool(args.quick)
    workers = [int(n) for n in (args.workers or ("1,2" if quick else "1,2,4")).split(",") if n.strip()]
    return Config(workers=workers, people=args.people or (10 if quick else 200),
                  updates=(60 if quick else 3_000) if args.updates is None else args.updates,
                  warmup_per_person=args.warmup,
                  connections=args.connections, repeat=max(1, args.repeat), stall_after=20.0 if quick else 60.0,
                  tail=1.0 if quick else 2.0, pg_admin=args.pg, quick=quick, broadcast=args.broadcast,
                  broadcast_pace=args.broadcast_per_second)


async def measure(cfg: Config, work: pathlib.Path) -> dict[str, Any]:
    results: dict[str, Any] = {"machine": report.machine(), "config": dataclasses.asdict(cfg), "source": source(),
                               "runs": [], "broadcasts": [], "errors": {}}
    fake = await FakeApi.start()
    try:
        for round_ in range(cfg.repeat):
            for workers in cfg.workers:
                label = f"{workers} worker(s), round {round_ + 1}"
                folder = work / f"round{round_ + 1}-workers{workers}"
                if cfg.updates > 0:
                    await _attempt(results, label, "runs", one_run(fake, cfg, workers, folder), round_ + 1)
                if cfg.broadcast:
                    await _attempt(results, f"{label}, broadcast", "broadcasts",
                                   broadcast_run(fake, cfg, workers, folder / "broadcast"), round_ + 1)
    finally:
        await fake.close()
    results["machine"]["loadavg_at_end"] = loadavg()
    return results


async def _attempt(results: dict[str, Any], label: str, key: str, run: Any, round_: int) -> None:
    """Await one run and file its figures under `key`, or its failure under errors."""
    print(f"… {label}", file=sys.stderr, flush=True)
    try:
        results[key].append(await run | {"round": round_})
    except Exception as exc:
        results["errors"][label] = f"{type(exc).__name__}: {exc}"


COLUMNS = ("workers", "updates/s", "p50 ms", "p99 ms", "answer p99", "webhook p99", "errors", "lost", "dup", "bot CPU",
           "PG CPU", "PG conns", "bot ms/upd", "load 1m")


def row(run: dict[str, Any]) -> list[str]:
    s, load = run["saturated"], run["loadavg_before"][:1] + run["loadavg_after"][:1]
    return [str(run["workers"]), f"{s['per_second']:.1f}", _num(s["p50_ms"]), _num(s["p99_ms"]),
            _num(run["answer_p99_ms"]), _num(run["webhook_p99_ms"]), str(run["errors"]),
            str(run["lost_replies"] + run["unanswered_updates"]), str(run["duplicate_replies"]),
            f"{run['bot_cpu_share']:.2f}", f"{run['pg_cpu_share']:.2f}", str(run["peak_pg_connections"]),
            f"{run['bot_cpu_ms_per_update']:.1f}", "–".join(f"{x:.1f}" for x in load)]


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def table(results: dict[str, Any]) -> str:
    m, c = results["machine"], results["config"]
    lines = [f"machine: {m.get('nproc')} CPUs ({m.get('cpu', '?')}), {m.get('memory_gb')} GB, Python "
             f"{m.get('python')}; {c['people']} people, {c['updates']} updates per run, "
             f"{c['connections']} connections; CPU shares: 1.0 = one core",
             f"code: {results['source']['folder']} at {str(results['source']['commit'])[:10]}, "
             f"{results['source']['app_files_changed']} app file(s) changed since", ""]
    rows = [list(COLUMNS), *(row(run) for run in results["runs"])]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines += ["  ".join(cell.rjust(widths[i]) for i, cell in enumerate(r)) for r in rows]
    lines += median_lines(results["runs"])
    if results["broadcasts"]:
        lines += ["", *(broadcast_line(run) for run in results["broadcasts"])]
    return "\n".join(lines)


def broadcast_line(run: dict[str, Any]) -> str:
    return (f"broadcast, {run['workers']} worker(s) at {run['setting']}/s each: {run['delivered']}/{run['recipients']}"
            f" delivered, {run['sent_twice']} twice, {run['throttled_429']} × 429, {run['rate_per_second']} msg/s, "
            f"at most {run['max_in_any_second']} in any second")


def median_lines(runs: list[dict[str, Any]]) -> list[str]:
    """With --repeat: the median updates/s of each worker count."""
    by_workers: dict[int, list[float]] = {}
    for run in runs:
        by_workers.setdefault(run["workers"], []).append(run["saturated"]["per_second"])
    if all(len(values) < 2 for values in by_workers.values()):
        return []
    return ["", *(f"median of {len(v)}, {n} worker(s): {statistics.median(v):.1f} updates/s"
                  for n, v in sorted(by_workers.items()))]


async def measure_until_stopped(cfg: Config, work: pathlib.Path) -> dict[str, Any]:
    """`measure`, cancelled on SIGTERM or SIGINT so that the bot, the fake and the databases are cleaned up."""
    task = asyncio.create_task(measure(cfg, work))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    return await task


def source() -> dict[str, Any]:
    """Which code ran: the folder `bot` was imported from, its git commit, and whether app files had changes."""
    folder = pathlib.Path(bot.__file__).resolve().parents[1]

    def git(*command: str) -> str:
        done = subprocess.run(["git", *command], cwd=folder, capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    changed = git("status", "--porcelain", "--", "bot", "handlers", "lessons", "storage")
    return {"folder": str(folder), "commit": git("rev-parse", "HEAD") or None,
            "app_files_changed": len(changed.splitlines()) if changed else 0}


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    cfg = config(args)
    work = pathlib.Path(tempfile.mkdtemp(prefix="hocvuso-workers-"))
    try:
        results = asyncio.run(measure_until_stopped(cfg, work))
    except asyncio.CancelledError:
        print("stopped", file=sys.stderr)
        return 130
    finally:
        if args.keep:
            print(f"work folder kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(table(results))
    if results["errors"]:
        print("\nerrors: " + json.dumps(results["errors"], ensure_ascii=False), file=sys.stderr)
    if args.json is not None:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
