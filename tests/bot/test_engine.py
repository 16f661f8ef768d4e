"""The engine's promises: dedupe, per-person order, one transaction, durable delivery, roles."""

from __future__ import annotations

import asyncio
import os
import pathlib
import subprocess
import sys
import textwrap
from typing import Any

from sqlalchemy import func, select

from bot.context import Community, Context
from bot.engine import Engine
from bot.messages import Inbound, InboundKind, Reply
from bot.ratelimit import FloodGuard
from bot.roles import Role
from bot.routing import Router
from lessons.catalog import Catalog
from storage import migrate
from storage.db import create_engine, session_factory
from storage.models import OutboxMessage, Person
from storage.places import PlacesRepo
from tests import harness
from tests.harness import Recorder, database_url

ROOT = pathlib.Path(__file__).resolve().parents[2]


def counting_router() -> Router:
    """Each text is appended to the person's state and echoed with its position."""
    router = Router()

    @router.fallback
    async def count(inbound: Inbound, ctx: Context) -> None:
        if ctx.person is None:
            ctx.became(await ctx.repos.people.create(ctx.ref, ctx.community.commune_id))
        seen = [*ctx.state.get("seen", []), inbound.text]
        ctx.state["seen"] = seen
        await asyncio.sleep(0)  # let other tasks run mid-handler: interleaving would show
        ctx.reply(f"{len(seen)}:{inbound.text}")

    @router.command("boom", requires=Role.ANYONE)
    async def boom(inbound: Inbound, ctx: Context) -> None:
        ctx.state["seen"] = ["lost"]
        ctx.reply("never sent")
        raise RuntimeError("handler bug")

    @router.command("admin", requires=Role.OFFICIAL)
    async def admin(inbound: Inbound, ctx: Context) -> None:
        ctx.reply("secret")

    @router.forbidden
    async def forbidden(inbound: Inbound, ctx: Context) -> None:
        ctx.reply("forbidden")

    return router


async def make_engine(db: pathlib.Path, recorder: Recorder) -> tuple[Engine, Any]:
    database = create_engine(database_url(db))
    await migrate.upgrade(database)
    sessions = session_factory(database)
    async with sessions() as session, session.begin():
        commune = await PlacesRepo(session).ensure_commune("xã Thử", ["Xóm 1"])
    from zoneinfo import ZoneInfo

    community = Community(commune.id, commune.name, ZoneInfo("Asia/Ho_Chi_Minh"))
    # Flood control is its own test: these tests send bursts on purpose.
    engine = Engine(sessions, counting_router(), Catalog(), community, {"test": recorder},
                    flood=FloodGuard(limit=10_000))
    return engine, database


def text(n: int, person: str = "test:1", key: str | None = None) -> Inbound:
    return Inbound(person=person, kind=InboundKind.TEXT, key=key or f"{person}:{n}", text=str(n))


async def test_a_duplicate_key_has_one_effect(tmp_path: pathlib.Path) -> None:
    recorder = Recorder()
    engine, database = await make_engine(tmp_path / "e.db", recorder)
    assert await engine.handle(text(1, key="same")) is True
    assert await engine.handle(text(1, key="same")) is False
    assert [r.text for _, r in recorder.sent] == ["1:1"]
    await database.dispose()


async def test_fifty_concurrent_inbounds_for_one_person_stay_in_order(tmp_path: pathlib.Path) -> None:
    recorder = Recorder()
    engine, database = await make_engine(tmp_path / "e.db", recorder)
    others = [text(n, person="test:2") for n in range(10)]
    await asyncio.gather(*(engine.handle(text(n)) for n in range(50)), *(engine.handle(o) for o in others))
    mine = [r.text for person, r in recorder.sent if person == "test:1"]
    assert mine == [f"{n + 1}:{n}" for n in range(50)]
    async with engine._sessions() as session:
        person = (await session.scalars(select(Person).where(Person.ref == "test:1"))).one()
    assert person.state["seen"] == [str(n) for n in range(50)]
    await database.dispose()


async def test_a_failing_handler_rolls_back_and_apologises(tmp_path: pathlib.Path) -> None:
    recorder = Recorder()
    engine, database = await make_engine(tmp_path / "e.db", recorder)
    await engine.handle(text(1))
    await engine.handle(Inbound.from_text("test:1", "/boom", key="b1"))
    await engine.handle(Inbound.from_text("test:1", "/boom", key="b1"))  # redelivered: not run again
    await engine.handle(text(2))
    texts = [r.text for _, r in recorder.sent]
    assert texts[0] == "1:1" and "trục trặc" in texts[1] and texts[2] == "2:2" and len(texts) == 3
    assert "never sent" not in texts
    await database.dispose()


async def test_roles_are_checked_before_the_handler_runs(tmp_path: pathlib.Path) -> None:
    recorder = Recorder()
    engine, database = await make_engine(tmp_path / "e.db", recorder)
    await engine.handle(text(1))
    await engine.handle(Inbound.from_text("test:1", "/admin", key="a1"))
    async with engine._sessions() as session, session.begin():
        person = (await session.scalars(select(Person))).one()
        person.is_official = True
    await engine.handle(Inbound.from_text("test:1", "/admin", key="a2"))
    assert [r.text for _, r in recorder.sent] == ["1:1", "forbidden", "secret"]
    await database.dispose()


async def test_failed_delivery_is_retried_and_sent_once(tmp_path: pathlib.Path) -> None:
    recorder = Recorder(fail_next=1)
    engine, database = await make_engine(tmp_path / "e.db", recorder)
    await engine.handle(text(1))
    assert recorder.sent == []
    async with engine._sessions() as session:
        row = (await session.scalars(select(OutboxMessage))).one()
        assert row.attempts == 1 and row.last_error == "simulated outage"
        row.next_attempt_at = row.created_at  # make it due now
        await session.commit()
    await engine.deliver_pending()
    await engine.deliver_pending()
    assert [r.text for _, r in recorder.sent] == ["1:1"]
    async with engine._sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    await database.dispose()


CRASHING_CHILD = textwrap.dedent("""
    import asyncio, os, pathlib, sys
    sys.path.insert(0, {root!r})
    from tests import harness
    harness.POSTGRES_URL = os.environ.get("HOCVUSO_CHILD_DB") or None
    from tests.bot.test_engine import make_engine, text

    class Crash:
        name = "test"
        async def send(self, person, reply):
            os._exit(17)  # the process dies after the commit, before anything is delivered

    async def main():
        engine, _ = await make_engine(pathlib.Path({db!r}), Crash())
        await engine.handle(text(1))

    asyncio.run(main())
""")


async def test_a_crash_after_commit_delivers_the_reply_after_restart_once(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "e.db"
    script = CRASHING_CHILD.format(root=str(ROOT), db=str(db))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "HOCVUSO_CHILD_DB": harness.POSTGRES_URL or ""})
    assert result.returncode == 17, result.stderr
    recorder = Recorder()
    engine, database = await make_engine(db, recorder)  # the restart
    assert recorder.sent == []
    await engine.deliver_pending()
    await engine.deliver_pending()
    await engine.handle(text(1, key="test:1:1"))  # the platform redelivers the same update: a duplicate
    assert [r.text for _, r in recorder.sent] == ["1:1"]
    await database.dispose()


async def test_old_inbox_keys_are_forgotten(tmp_path: pathlib.Path) -> None:
    import datetime as dt

    recorder = Recorder()
    engine, database = await make_engine(tmp_path / "e.db", recorder)
    await engine.handle(text(1))
    await engine.forget_old_keys(dt.timedelta(days=7))
    assert await engine.handle(text(1)) is False  # still remembered
    await engine.forget_old_keys(dt.timedelta(seconds=-1))
    assert await engine.handle(text(1)) is True  # forgotten: handled as new
    await database.dispose()


async def test_a_flood_gets_one_polite_word_and_is_dropped_others_unaffected(tmp_path: pathlib.Path) -> None:
    recorder = Recorder()
    engine, database = await make_engine(tmp_path / "e.db", recorder)
    engine._flood = FloodGuard(limit=5, window=60)
    results = [await engine.handle(text(n)) for n in range(12)]
    assert results == [True] * 5 + [False] * 7
    mine = [r.text for person, r in recorder.sent if person == "test:1"]
    assert mine[:5] == [f"{n + 1}:{n}" for n in range(5)]
    assert len(mine) == 6 and "chậm lại" in mine[5]
    assert await engine.handle(text(1, person="test:2")) is True  # someone else is served as usual
    await database.dispose()


def test_the_flood_window_slides() -> None:
    guard = FloodGuard(limit=2, window=10)
    assert [guard.check("a", now=t) for t in (0, 1, 2, 3)] == ["ok", "ok", "warn", "drop"]
    assert guard.check("a", now=20) == "ok"
    assert guard.check("b", now=3) == "ok"


async def test_slow_down_answers_do_not_count_as_attempts_and_the_message_is_kept(tmp_path: pathlib.Path) -> None:
    """A long broadcast meets many 429s; a message asked to wait is never dropped as undeliverable."""
    from bot.channels.base import DeliveryError
    from bot.delivery import MAX_ATTEMPTS

    class Throttled(Recorder):
        refusals = MAX_ATTEMPTS + 3

        async def send(self, person: str, reply: Reply) -> None:
            if self.refusals:
                self.refusals -= 1
                raise DeliveryError("telegram: flood control", retry_after=0.0)
            await super().send(person, reply)

    recorder = Throttled()
    engine, database = await make_engine(tmp_path / "e.db", recorder)
    await engine.handle(text(1))
    for _ in range(MAX_ATTEMPTS + 3):
        await engine.deliver_pending()
    assert [r.text for _, r in recorder.sent] == ["1:1"]
    async with engine._sessions() as session:
        assert (await session.scalars(select(OutboxMessage))).all() == []
    await database.dispose()
