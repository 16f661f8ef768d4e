"""ctx.after_commit: work that runs once the inbound has committed, outside the write transaction (long reports)."""

from __future__ import annotations

import asyncio
import pathlib
from typing import Any
from zoneinfo import ZoneInfo

from bot.context import Community, Context
from bot.engine import Engine
from bot.messages import Choice, Inbound, Reply
from bot.ratelimit import FloodGuard
from bot.roles import Role
from bot.routing import Router
from lessons.catalog import Catalog
from storage import migrate
from storage.db import create_engine, session_factory
from storage.people import PeopleRepo
from storage.places import PlacesRepo
from tests.harness import Recorder, database_url


def router(gate: asyncio.Event, started: asyncio.Event) -> Router:
    routes = Router()

    @routes.fallback
    async def echo(inbound: Inbound, ctx: Context) -> None:
        if ctx.person is None:
            ctx.became(await ctx.repos.people.create(ctx.ref, ctx.community.commune_id))
        ctx.reply(f"echo {inbound.text}")

    @routes.command("report", requires=Role.ANYONE)
    async def report(inbound: Inbound, ctx: Context) -> None:
        if ctx.person is None:
            ctx.became(await ctx.repos.people.create(ctx.ref, ctx.community.commune_id))
        ctx.reply("⏳ working")

        async def build(later: Context) -> None:
            started.set()
            await gate.wait()  # a long read: the write queue must be free meanwhile
            people = await later.repos.people.unreachable({later.ref})
            later.reply(f"report for {later.ref}, {len(people)} unreachable",
                        [[Choice(label="🏠 Về menu", payload="menu")]])
            later.notify("test:other", Reply(text="a report was made"))

        ctx.after_commit(build)

    @routes.command("broken", requires=Role.ANYONE)
    async def broken(inbound: Inbound, ctx: Context) -> None:
        async def fail(later: Context) -> None:
            raise RuntimeError("report bug")

        ctx.reply("⏳ working")
        ctx.after_commit(fail)

    return routes


async def make_engine(tmp_path: pathlib.Path, recorder: Recorder, gate: asyncio.Event,
                      started: asyncio.Event) -> tuple[Engine, Any]:
    database = create_engine(database_url(tmp_path / "after.db"))
    await migrate.upgrade(database)
    sessions = session_factory(database)
    async with sessions() as session, session.begin():
        commune = await PlacesRepo(session).ensure_commune("xã Thử", ["Xóm 1"])
    community = Community(commune.id, commune.name, ZoneInfo("Asia/Ho_Chi_Minh"))
    engine = Engine(sessions, router(gate, started), Catalog(), community, {"test": recorder},
                    flood=FloodGuard(limit=10_000))
    return engine, database


def text(person: str, words: str, key: str) -> Inbound:
    return Inbound.from_text(person, words, key=key)


async def test_the_work_runs_after_the_commit_while_others_are_answered(tmp_path: pathlib.Path) -> None:
    recorder, gate, started = Recorder(), asyncio.Event(), asyncio.Event()
    engine, database = await make_engine(tmp_path, recorder, gate, started)
    try:
        await engine.handle(text("test:other", "hi", "o0"))
        reporting = asyncio.create_task(engine.handle(text("test:official", "/report", "r1")))
        await asyncio.wait_for(started.wait(), 30)
        assert [(p, r.text) for p, r in recorder.sent][-1] == ("test:official", "⏳ working")  # sent first
        # While the report is being built, another person's update commits and is answered.
        assert await asyncio.wait_for(engine.handle(text("test:other", "again", "o1")), 30) is True
        assert recorder.sent[-1][1].text == "echo again"
        gate.set()
        assert await asyncio.wait_for(reporting, 30) is True
        sent = [(p, r.text) for p, r in recorder.sent]
        assert ("test:official", "report for test:official, 0 unreachable") in sent
        assert ("test:other", "a report was made") in sent
        # The report's buttons are remembered, as for any reply: a typed "1" means its first button.
        async with engine.sessions() as session:
            person = await PeopleRepo(session).by_ref("test:official")
            assert person is not None and person.state.get("offered") == ["menu"]
        # A redelivered /report is a duplicate: nothing runs again.
        assert await engine.handle(text("test:official", "/report", "r1")) is False
    finally:
        await database.dispose()


async def test_failing_work_apologises_and_the_commit_stands(tmp_path: pathlib.Path) -> None:
    recorder, gate, started = Recorder(), asyncio.Event(), asyncio.Event()
    engine, database = await make_engine(tmp_path, recorder, gate, started)
    try:
        assert await engine.handle(text("test:a", "/broken", "b1")) is True
        texts = [r.text for _, r in recorder.sent]
        assert texts[0] == "⏳ working" and "trục trặc" in texts[1] and len(texts) == 2
        assert await engine.handle(text("test:a", "/broken", "b1")) is False  # the inbound itself was committed
    finally:
        await database.dispose()


async def test_with_a_webhook_the_work_runs_in_the_background(tmp_path: pathlib.Path) -> None:
    recorder, gate, started = Recorder(), asyncio.Event(), asyncio.Event()
    engine, database = await make_engine(tmp_path, recorder, gate, started)
    try:
        assert await engine.handle(text("test:official", "/report", "w1"), wait_delivery=False) is True
        await asyncio.wait_for(started.wait(), 30)
        gate.set()
        await asyncio.wait_for(engine.drain(), 30)
        assert any(r.text.startswith("report for") for _, r in recorder.sent)
    finally:
        await database.dispose()

