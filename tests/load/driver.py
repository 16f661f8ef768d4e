"""Simulated people over the Telegram webhook: the real `hocvuso run` process on loopback, driven with aiohttp.

The bot runs as its own process in webhook mode (HOCVUSO_PUBLIC_URL and HOCVUSO_WEBHOOK_SECRET set), on the test's
database (a SQLite file, or the test's own PostgreSQL database), with the test lessons, and sends its replies to the
fake Bot API in this process. Nine people in ten were onboarded before the run (`seed`); the tenth onboards over
the webhook (/start, consent, hamlet, age group). Then each takes lesson bai-thu again and again until the time is
up (tests/load/people.py: open it, "▶ Tiếp tục", type the practice answer, "✅ Làm được rồi", three quiz answers).

One update outstanding per person: the next is POSTed to /telegram/webhook (with the secret header) once the
answer to the last has arrived at the fake. Measured: per update, the time from POSTing it to the answer's last
message arriving at the fake (p50, p99), the time until the webhook's 200, and the answered updates per second.

What must hold: no HTTP error, every update answered, in script and once (no message after an answer was complete),
nothing logged as an error by the bot, nothing left in the outbox, and per person the database's progress equals
what the driver saw confirmed: as many `step_reached` events as steps confirmed, as many quiz attempts as quizzes
confirmed, and the saved step the one the person was last shown. If nothing at all is answered for `stall_after`
seconds while people wait, the run is given up as stuck (the bot is killed, and `LoadResult.check` raises Stalled).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
import signal
import sys
import time

import aiohttp
from sqlalchemy import func, select

from handlers import onboarding
from storage import migrate
from storage.db import create_engine, is_sqlite, session_factory
from storage.models import LessonProgress, OutboxMessage, Person, ProgressEvent
from storage.places import PlacesRepo
from storage.privacy import ConsentRepo
from tests.channels.telegram_helpers import free_port
from tests.harness import TEST_LESSONS
from tests.load.people import LESSON, OffScript, ReportingTelegram, Walker, onboards_over_the_webhook
from tests.load.result import LoadResult

SECRET = "load-test-webhook-secret-0123"
COMMUNE = "xã Bạch Ngọc"
HAMLETS = ["Xóm 1", "Xóm 2", "Xóm 3", "Xóm 4", "Xóm 5"]
HOCVUSO = pathlib.Path(sys.executable).with_name("hocvuso")
STOP_SECONDS = 30.0  # SIGTERM to exit: the bot sends what is committed, then stops


async def run_load(database_url: str, workdir: pathlib.Path, *, people: int, seconds: float, ramp: float = 1.0,
                   reply_timeout: float = 120.0, stall_after: float | None = None) -> LoadResult:
    """Start the bot, let `people` walk for `seconds` (starting over `ramp` seconds), stop it, and compare the
    database with what they saw. Stuck: nothing answered for `stall_after` seconds (by default 10 s, or a tenth
    of a second per person: a full queue of N people is answered at well over 10 updates/s)."""
    stall_after = stall_after if stall_after is not None else max(10.0, people / 10)
    result = LoadResult(backend="SQLite" if is_sqlite(database_url) else "PostgreSQL", people=people)
    walkers = {user: Walker(user, onboarded=not onboards_over_the_webhook(user)) for user in range(1, people + 1)}
    await seed(database_url, [user for user, walker in walkers.items() if walker.onboarded])
    fake = ReportingTelegram(walkers=walkers)
    await fake.start()
    port = free_port()
    log = workdir / "bot.log"
    try:
        with log.open("wb") as stderr:
            bot = await asyncio.create_subprocess_exec(str(HOCVUSO), "run", env=bot_env(fake, database_url, port),
                                                       cwd=workdir, stdout=asyncio.subprocess.DEVNULL, stderr=stderr)
        try:
            await _wait_ready(fake, bot, port, log)
            await _drive(result, fake, walkers, port, seconds=seconds, ramp=ramp, reply_timeout=reply_timeout,
                         stall_after=stall_after)
            if not result.stalled:
                await asyncio.sleep(0.5)  # a reply delivered twice would arrive now
                await _outbox_empty(result, database_url)
        finally:
            await _stop(bot, result)
    finally:
        await fake.stop()
    logged = [line for line in log.read_text(errors="replace").splitlines()
              if " ERROR " in line or " CRITICAL " in line or line.startswith("Traceback")]
    result.errors += [f"the bot logged: {line[:300]}" for line in logged]
    result.duplicated = sum(len(w.strays) + w.surplus for w in walkers.values())
    result.errors += [f"person {w.user} got messages after their answer was complete: {w.strays[:3]}"
                      for w in walkers.values() if w.strays]
    if fake.to_nobody:
        result.errors.append(f"{fake.to_nobody} messages went to chats nobody simulated")
    await _compare_progress(result, database_url, walkers)
    return result


async def seed(database_url: str, users: list[int]) -> None:
    """Migrate the database and add these Telegram users as people who onboarded earlier (consented to the text
    shown, a hamlet, 60+), as the bot would have after their first four updates."""
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        async with session_factory(engine)() as session, session.begin():
            commune = await PlacesRepo(session).ensure_commune(COMMUNE, HAMLETS)
            hamlets = [hamlet.id for hamlet in await PlacesRepo(session).hamlets(commune.id)]
            text = onboarding.consent_text(COMMUNE, "telegram")
            for user in users:
                ref = f"telegram:{user}"
                await ConsentRepo(session).record(ref=ref, channel="telegram", purpose=onboarding.PURPOSE,
                                                  text_version=onboarding.CONSENT_VERSION, text=text, granted=True)
                session.add(Person(ref=ref, commune_id=commune.id, hamlet_id=hamlets[user % len(hamlets)],
                                   age_group="60+", state={}))
    finally:
        await engine.dispose()


# ---- the bot ---------------------------------------------------------------------------------------

def bot_env(fake: ReportingTelegram, database_url: str, port: int) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("HOCVUSO_")}
    env.update({"HOCVUSO_TELEGRAM_TOKEN": fake.token, "HOCVUSO_TELEGRAM_API_URL": fake.root,
                "HOCVUSO_DATABASE_URL": database_url, "HOCVUSO_COMMUNE": COMMUNE,
                "HOCVUSO_HAMLETS": ",".join(HAMLETS), "HOCVUSO_WEB_CHAT": "false",
                "HOCVUSO_LESSONS_DIR": str(TEST_LESSONS), "HOCVUSO_LOG_LEVEL": "WARNING",
                "HOCVUSO_HOST": "127.0.0.1", "HOCVUSO_PORT": str(port),
                "HOCVUSO_PUBLIC_URL": f"http://127.0.0.1:{port}", "HOCVUSO_WEBHOOK_SECRET": SECRET,
                # Simulated people answer within milliseconds, far faster than anyone types; the check still runs.
                "HOCVUSO_FLOOD_LIMIT": "1000000", "PYTHONFAULTHANDLER": "1"})
    return env


async def _wait_ready(fake: ReportingTelegram, bot: asyncio.subprocess.Process, port: int,
                      log: pathlib.Path) -> None:
    """Up when /healthz answers and the webhook is set (the Telegram channel has started)."""
    async with aiohttp.ClientSession() as http:
        for _ in range(600):
            if bot.returncode is not None:
                raise RuntimeError(f"the bot exited with {bot.returncode}: {log.read_text()[-3000:]}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200 and fake.webhook_url:
                        return
            await asyncio.sleep(0.05)
    raise TimeoutError(f"the bot never became ready: {log.read_text()[-3000:]}")


async def _stop(bot: asyncio.subprocess.Process, result: LoadResult) -> None:
    """SIGTERM, and it must exit cleanly; a stuck bot (stalled run) is killed at once."""
    if bot.returncode is None:
        if result.stalled:
            bot.kill()
        else:
            bot.terminate()
    try:
        await asyncio.wait_for(bot.wait(), timeout=STOP_SECONDS)
    except TimeoutError:
        bot.send_signal(signal.SIGABRT)  # PYTHONFAULTHANDLER: its threads' stacks go to bot.log
        try:
            await asyncio.wait_for(bot.wait(), timeout=5)
        except TimeoutError:
            bot.kill()
            await bot.wait()
        result.errors.append(f"the bot did not stop within {STOP_SECONDS:.0f} s of SIGTERM (its stack: bot.log)")
        return
    if not result.stalled and bot.returncode not in (0, -15):
        result.errors.append(f"the bot exited with {bot.returncode}")


# ---- the people ------------------------------------------------------------------------------------

async def _drive(result: LoadResult, fake: ReportingTelegram, walkers: dict[int, Walker], port: int, *,
                 seconds: float, ramp: float, reply_timeout: float, stall_after: float) -> None:
    url = f"http://127.0.0.1:{port}/telegram/webhook"
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    started = time.monotonic()
    deadline = started + seconds
    last_answer = progress = started
    waiting = 0

    async def walk(walker: Walker, http: aiohttp.ClientSession) -> None:
        nonlocal last_answer, progress, waiting
        await asyncio.sleep(ramp * (walker.user - 1) / len(walkers))
        offered: list[str] = []
        for move in walker.moves():
            if time.monotonic() >= deadline:
                return
            value = move.value
            if move.press:
                value = next((b for b in offered if b.startswith(move.value)), "")
                if not value:
                    result.errors.append(f"person {walker.user}: no button {move.value!r} in {offered}")
                    return
            update = (fake.text_update(walker.user, value) if move.kind == "text"
                      else fake.callback_update(walker.user, value))
            answer = walker.expect(move)
            result.posted += 1
            waiting += 1
            sent = time.monotonic()
            problem = None
            try:
                async with http.post(url, json=update, headers=headers) as response:
                    body = await response.read()
                if response.status != 200:
                    problem = f"HTTP {response.status} for {value!r}: {body[:200]!r}"
                else:
                    result.acks.append(time.monotonic() - sent)
                    offered, at = await asyncio.wait_for(answer, timeout=reply_timeout)
            except OffScript as exc:
                problem = str(exc)
            except TimeoutError:
                problem = f"no answer to {value!r} within {reply_timeout:.0f} s (got {walker.window})"
            except aiohttp.ClientError as exc:
                problem = f"{type(exc).__name__} posting {value!r}: {exc}"
            except asyncio.CancelledError:
                walker.stopped(move)  # the run was given up as stuck
                raise
            finally:
                waiting -= 1
            if problem is not None:
                result.errors.append(f"person {walker.user}: {problem}")
                walker.stopped(move)
                return
            result.answered += 1
            result.latencies.append(at - sent)
            last_answer = progress = max(last_answer, at)
            walker.confirmed(move)

    connector = aiohttp.TCPConnector(limit=0)  # a connection per person, as Telegram's servers open several
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=reply_timeout)) as http:
        tasks = [asyncio.create_task(walk(walker, http)) for walker in walkers.values()]
        while not all(task.done() for task in tasks):
            await asyncio.wait(tasks, timeout=0.5)
            if waiting and time.monotonic() - progress > stall_after:
                result.stalled = waiting
                result.errors.append(f"stalled: nothing answered for {stall_after:.0f} s while {waiting} people "
                                     f"waited (at {time.monotonic() - started:.1f} s into the run)")
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        for task in tasks:
            if not task.cancelled() and task.exception() is not None:
                result.errors.append(f"a simulated person failed: {task.exception()!r}")
    result.seconds = last_answer - started
    result.steps = sum(w.steps for w in walkers.values())
    result.quizzes = sum(w.finishes for w in walkers.values())


# ---- the database ----------------------------------------------------------------------------------

async def _outbox_empty(result: LoadResult, database_url: str) -> None:
    """Every answer arrived; the rows behind them are deleted right after sending (give that a moment)."""
    engine = create_engine(database_url)
    left = 0
    try:
        for _ in range(50):
            async with engine.connect() as connection:
                left = int((await connection.execute(select(func.count()).select_from(OutboxMessage))).scalar() or 0)
            if left == 0:
                return
            await asyncio.sleep(0.1)
        result.errors.append(f"{left} messages still in the outbox after every answer arrived")
    finally:
        await engine.dispose()


async def _compare_progress(result: LoadResult, database_url: str, walkers: dict[int, Walker]) -> None:
    """Per person: the steps, quiz attempts and saved step in the database against what the driver saw confirmed.
    A person who stopped on an error had one move outstanding, which may or may not have been applied."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            ids = {ref: pid for ref, pid in await connection.execute(
                select(Person.ref, Person.id).where(Person.ref.like("telegram:%"), Person.age_group == "60+",
                                                    Person.hamlet_id.is_not(None)))}
            events = {(pid, kind): int(n) for pid, kind, n in await connection.execute(
                select(ProgressEvent.person_id, ProgressEvent.kind, func.count())
                .where(ProgressEvent.kind.in_(["step_reached", "quiz_finished"]))
                .group_by(ProgressEvent.person_id, ProgressEvent.kind))}
            saved = {pid: (step, attempts) for pid, step, attempts in await connection.execute(
                select(LessonProgress.person_id, LessonProgress.step_id, LessonProgress.attempts)
                .where(LessonProgress.lesson_id == LESSON))}
    finally:
        await engine.dispose()
    for walker in walkers.values():
        pid = ids.get(f"telegram:{walker.user}")
        if pid is None:
            if walker.onboarded:
                result.errors.append(f"person {walker.user} was onboarded (60+, a hamlet) but the database does "
                                     "not have them so")
            continue
        pending = walker.gave_up
        maybe_step = int(pending is not None and pending.step is not None)
        maybe_quiz = int(pending is not None and pending.finishes)
        steps = events.get((pid, "step_reached"), 0)
        quizzes = events.get((pid, "quiz_finished"), 0)
        step, attempts = saved.get(pid, (None, 0))
        result.lost_steps += max(0, walker.steps - steps)
        result.extra_steps += max(0, steps - walker.steps - maybe_step)
        places = {walker.at_step} | ({pending.step} if pending is not None and pending.step is not None else set())
        if not (walker.steps <= steps <= walker.steps + maybe_step and step in places
                and walker.finishes <= quizzes == attempts <= walker.finishes + maybe_quiz):
            result.errors.append(f"person {walker.user}: the driver saw {walker.steps} steps (the last "
                                 f"{walker.at_step!r}) and {walker.finishes} quizzes; the database has {steps} "
                                 f"steps (at {step!r}), {quizzes} quizzes and {attempts} attempts")
