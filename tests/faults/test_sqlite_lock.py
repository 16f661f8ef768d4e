"""Another OS process holds the SQLite file's write lock (BEGIN EXCLUSIVE) while the app handles inbounds.

Shorter than the busy timeout: requests wait and succeed. Longer than the busy timeout (the timeout is lowered to
1 s for these tests, `storage.db.SQLITE_BUSY_TIMEOUT_MS`): the database stays whole, nothing is half-written, and
the person ends up with the normal reply or the apology. The lock is also taken at the worst moment for the outbox:
after a reply was sent and before its row is deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from bot import retrying as retrying_module
from bot.app import App
from bot.channels.base import Busy
from bot.engine import SORRY
from bot.messages import Inbound, Reply
from storage import db as storage_db
from tests.harness import Chat, Recorder, start_app

# About the SQLite file and a single process; the PostgreSQL pass of the suite skips it.
pytestmark = pytest.mark.sqlite_only

HOLDER = r"""
import sqlite3, sys, time

connection = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
connection.execute("ROLLBACK")
connection.close()
"""
SHORT_BUSY_MS = 1000


async def hold_lock(db: pathlib.Path, seconds: float) -> asyncio.subprocess.Process:
    """Start a process that holds the database's write lock for `seconds`; returns once it holds it."""
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", HOLDER, str(db), str(seconds),
                                                   stdout=asyncio.subprocess.PIPE)
    assert process.stdout is not None
    assert (await asyncio.wait_for(process.stdout.readline(), timeout=30)).strip() == b"locked"
    return process


def query(db: pathlib.Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as connection:
        return list(connection.execute(sql, args))


@dataclass
class Progress:
    step: str | None
    practised: int  # practice_done events for step hai
    reached_ba: int  # step_reached events for step ba
    state_step: str | None


def progress(db: pathlib.Path, ref: str) -> Progress:
    (person, state), = query(db, "SELECT id, json_extract(state, '$.step') FROM people WHERE ref = ?", ref)
    (step,), = query(db, "SELECT step_id FROM lesson_progress WHERE person_id = ? AND lesson_id = 'bai-thu'",
                     person)
    events = dict(query(db, "SELECT kind || ':' || step_id, count(*) FROM progress_events "
                            "WHERE person_id = ? GROUP BY kind, step_id", person))
    return Progress(step=str(step), practised=int(events.get("practice_done:hai", 0)),  # type: ignore[call-overload]
                    reached_ba=int(events.get("step_reached:ba", 0)),  # type: ignore[call-overload]
                    state_step=None if state is None else str(state))


def whole(db: pathlib.Path) -> None:
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    assert query(db, "PRAGMA foreign_key_check") == []


async def at_step_two(chat: Chat) -> None:
    await chat.onboard()
    await chat.press("📚 Học bài")
    await chat.press("Bài thử")
    await chat.press("Bài 1")
    await chat.press("▶ Tiếp tục")
    assert "Bước 2/3" in chat.text


@pytest.fixture
async def app(tmp_path: pathlib.Path) -> AsyncIterator[tuple[App, Recorder]]:
    started, recorder = await start_app(tmp_path / "bot.db")
    yield started, recorder
    await started.close()


@pytest.fixture
def short_busy_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage_db, "SQLITE_BUSY_TIMEOUT_MS", SHORT_BUSY_MS)


# ---- a lock shorter than the busy timeout --------------------------------------------------------

async def test_inbounds_wait_for_a_short_lock_and_succeed(app: tuple[App, Recorder], tmp_path: pathlib.Path) -> None:
    db = tmp_path / "bot.db"
    learners = [Chat(*app, person=f"test:{n}") for n in (1, 2, 3)]
    for chat in learners:
        await at_step_two(chat)
    newcomer = Chat(*app, person="test:9")
    holder = await hold_lock(db, 3.0)
    began = time.monotonic()
    replies = await asyncio.gather(learners[0].say("50.000"), learners[1].say("/tiendo"),
                                   learners[2].press("Bỏ qua bước này"), newcomer.say("/start"))
    waited = time.monotonic() - began
    assert await holder.wait() == 0
    assert waited >= 2.0  # they queued behind the other process …
    texts = ["\n".join(r.text for r in batch) for batch in replies]
    assert all(SORRY not in text for text in texts)  # … and then did what they were asked
    assert "Đúng rồi" in texts[0] and "Bước 3/3" in texts[0]
    assert "Tiến độ" in texts[1]
    assert "Bước 3/3" in texts[2]
    assert "Trợ lý số" in texts[3]
    whole(db)
    assert query(db, "SELECT count(*) FROM outbox") == [(0,)]
    assert progress(db, "test:1") == Progress(step="ba", practised=1, reached_ba=1, state_step="ba")


# ---- a lock longer than the busy timeout ---------------------------------------------------------

async def attempt(app: App, inbound: Inbound) -> BaseException | None:
    try:
        await app.engine.handle(inbound)
    except Exception as exc:
        return exc
    return None


async def locked_out(tmp_path: pathlib.Path) -> tuple[App, Recorder, Inbound, BaseException | None, int]:
    """A person at step 2 types the answer while another process holds the lock 3.5 s (busy timeout 1 s)."""
    app, recorder = await start_app(tmp_path / "bot.db")
    chat = Chat(app, recorder, person="test:1")
    await at_step_two(chat)
    before = len(recorder.sent)
    inbound = Inbound.from_text("test:1", "50.000", key="locked-answer")
    holder = await hold_lock(tmp_path / "bot.db", 3.5)
    escaped = await attempt(app, inbound)
    assert await holder.wait() == 0
    return app, recorder, inbound, escaped, before


async def test_a_lock_past_the_busy_timeout_leaves_the_database_whole_and_the_answer_can_be_handled_again(
        tmp_path: pathlib.Path, short_busy_timeout: None) -> None:
    db = tmp_path / "bot.db"
    app, recorder, inbound, _, before = await locked_out(tmp_path)
    try:
        whole(db)
        now = progress(db, "test:1")
        # Nothing half-written: either all of the answer's effects or none of them.
        assert now in (Progress("hai", 0, 0, "hai"), Progress("ba", 1, 1, "ba")), now
        # The platform sends the update again (webhook retry, unconfirmed poll); the sweep delivers what is due.
        again = await attempt(app, inbound)
        await app.engine.deliver_pending()
        assert again is None
        texts = [reply.text for person, reply in recorder.sent[before:] if person == "test:1"]
        got_answer = any("Đúng rồi" in t for t in texts) and any("Bước 3/3" in t for t in texts)
        apologised = any(SORRY in t for t in texts)
        assert got_answer != apologised, texts  # one outcome, once
        assert query(db, "SELECT count(*) FROM outbox") == [(0,)]
        after = progress(db, "test:1")
        assert after == (Progress("ba", 1, 1, "ba") if got_answer else Progress("hai", 0, 0, "hai"))
        whole(db)
    finally:
        await app.close()


async def test_a_lock_past_the_busy_timeout_is_tried_again_and_the_answer_given(
        tmp_path: pathlib.Path, short_busy_timeout: None) -> None:
    app, recorder, _, escaped, before = await locked_out(tmp_path)
    try:
        assert escaped is None, repr(escaped)
        await app.engine.deliver_pending()  # the sweep, once the lock is gone
        texts = [reply.text for person, reply in recorder.sent[before:] if person == "test:1"]
        assert any("Bước 3/3" in t for t in texts), texts  # the engine tried again once the lock was gone
        assert progress(tmp_path / "bot.db", "test:1") == Progress("ba", 1, 1, "ba")
    finally:
        await app.close()


async def test_a_lock_past_the_retry_budget_hands_the_inbound_back_unwritten(
        tmp_path: pathlib.Path, short_busy_timeout: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Busy: nothing written, so the platform's redelivery (webhook 503, unconfirmed poll) is handled in full."""
    monkeypatch.setattr(retrying_module, "BUSY_BUDGET_SECONDS", 1.5)
    app, recorder, inbound, escaped, before = await locked_out(tmp_path)
    try:
        assert isinstance(escaped, Busy), repr(escaped)
        whole(tmp_path / "bot.db")
        assert progress(tmp_path / "bot.db", "test:1") == Progress("hai", 0, 0, "hai")
        assert await attempt(app, inbound) is None  # sent again once the lock is gone
        texts = [reply.text for person, reply in recorder.sent[before:] if person == "test:1"]
        assert any("Bước 3/3" in t for t in texts) and not any(SORRY in t for t in texts), texts
        assert progress(tmp_path / "bot.db", "test:1") == Progress("ba", 1, 1, "ba")
    finally:
        await app.close()


# ---- the lock taken between a send and the deletion of its outbox row ----------------------------

@dataclass
class LockingRecorder(Recorder):
    """Sends, then (once) has another process take the write lock before the engine can forget the row."""

    db: pathlib.Path = pathlib.Path()
    seconds: float = 0.0
    armed: bool = False
    holders: list[asyncio.subprocess.Process] = field(default_factory=list)

    async def send(self, person: str, reply: Reply) -> None:
        await super().send(person, reply)
        if self.armed:
            self.armed = False
            self.holders.append(await hold_lock(self.db, self.seconds))


async def lock_after_send(tmp_path: pathlib.Path, seconds: float
                          ) -> tuple[App, LockingRecorder, BaseException | None, int]:
    recorder = LockingRecorder(db=tmp_path / "bot.db", seconds=seconds)
    app, _ = await start_app(tmp_path / "bot.db", recorder)
    chat = Chat(app, recorder, person="test:1")
    await chat.onboard()
    before = len(recorder.sent)
    recorder.armed = True
    escaped = await attempt(app, Inbound.from_text("test:1", "/trogiup", key="help-once"))
    assert all([await holder.wait() == 0 for holder in recorder.holders])
    return app, recorder, escaped, before


def helps(recorder: Recorder, before: int) -> int:
    return sum("dùng điện thoại" in reply.text for _, reply in recorder.sent[before:])


async def test_a_short_lock_between_send_and_delete_is_waited_out_and_the_reply_sent_once(
        tmp_path: pathlib.Path) -> None:
    app, recorder, escaped, before = await lock_after_send(tmp_path, seconds=2.0)
    try:
        assert escaped is None
        await app.engine.deliver_pending()
        assert helps(recorder, before) == 1
        assert query(tmp_path / "bot.db", "SELECT count(*) FROM outbox") == [(0,)]
    finally:
        await app.close()


async def test_a_long_lock_between_send_and_delete_does_not_escape_handle(
        tmp_path: pathlib.Path, short_busy_timeout: None) -> None:
    app, _, escaped, _ = await lock_after_send(tmp_path, seconds=3.0)
    try:
        assert escaped is None, repr(escaped)
    finally:
        await app.close()


async def test_a_long_lock_between_send_and_delete_does_not_send_the_reply_twice(
        tmp_path: pathlib.Path, short_busy_timeout: None) -> None:
    app, recorder, _, before = await lock_after_send(tmp_path, seconds=3.0)
    try:
        await app.engine.deliver_pending()  # the sweep, once the lock is gone
        assert query(tmp_path / "bot.db", "SELECT count(*) FROM outbox") == [(0,)]
        assert helps(recorder, before) == 1
    finally:
        await app.close()
