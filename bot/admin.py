"""Commune administration from the command line: invite codes, officials."""

from __future__ import annotations

import asyncio
import datetime as dt
import pathlib
import re
import sys
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from bot.settings import Settings
from storage import migrate
from storage.db import create_engine, session_factory
from storage.invites import InvitesRepo
from storage.models import Commune
from storage.people import PeopleRepo
from storage.places import PlacesRepo

Action = Callable[[AsyncSession, Commune, Settings], Awaitable[str]]
_REF = re.compile(r"^(telegram|zalo|web):[A-Za-z0-9_-]{1,64}$")


def run(settings: Settings, action: Action) -> int:
    if not settings.commune or not settings.hamlet_names:
        print("hocvuso: set HOCVUSO_COMMUNE and HOCVUSO_HAMLETS first", file=sys.stderr)
        return 2
    try:
        print(asyncio.run(_with_session(settings, action)))
    except ValueError as exc:
        print(f"hocvuso: {exc}", file=sys.stderr)
        return 2
    return 0


async def _with_session(settings: Settings, action: Action) -> str:
    engine = create_engine(settings.database_url)
    try:
        await migrate.upgrade(engine)
        async with session_factory(engine)() as session, session.begin():
            commune = await PlacesRepo(session).ensure_commune(settings.commune, settings.hamlet_names)
            return await action(session, commune, settings)
    finally:
        await engine.dispose()


def invite(role: str) -> Action:
    async def make(session: AsyncSession, commune: Commune, settings: Settings) -> str:
        code = await InvitesRepo(session).create(role, commune.id, dt.timedelta(days=settings.invite_days))
        return f"{code}\n(single use, expires in {settings.invite_days} days; the mentor sends: /tnv {code})"
    return make


def add_official(ref: str, name: str | None) -> Action:
    async def add(session: AsyncSession, commune: Commune, settings: Settings) -> str:
        if not _REF.match(ref):
            raise ValueError("the person is telegram:<id> or zalo:<id>")
        people = PeopleRepo(session)
        person = await people.by_ref(ref) or await people.create(ref, commune.id)
        person.is_official = True
        if name:
            person.display_name = name[:60]
        return f"{ref} is now an official of {commune.name}"
    return add


def report(year: int, month: int, out: pathlib.Path) -> Action:
    async def write(session: AsyncSession, commune: Commune, settings: Settings) -> str:
        from zoneinfo import ZoneInfo

        from bot.media.report import catalog_inputs, monthly_workbook
        from lessons import catalog as lesson_catalog
        from storage.stats import StatsRepo

        tracks, lessons, titles = catalog_inputs(lesson_catalog.load(settings.lessons_dir or lesson_catalog.CONTENT))
        built = await StatsRepo(session).month(commune.id, year, month, tracks, lessons,
                                               zone=ZoneInfo(settings.timezone), track_titles=titles)
        await asyncio.to_thread(out.write_bytes, monthly_workbook(built, commune=commune.name))
        return f"wrote {out} (report for {built.period})"
    return write
