"""Deleting people keeps the commune's counts (anonymous counts), names nobody; the privacy log is salted and purged.

On the seeded commune of tests/storage/seed.py, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import migrate
from storage.db import create_engine, session_factory
from storage.models import AnonymousCount, ConsentRecord, DataRequest, Person, utcnow
from storage.people import PeopleRepo
from storage.places import PlacesRepo
from storage.privacy import ConsentRepo, DataRequestsRepo, Retention, ref_hash
from storage.stats import StatsRepo
from storage.stats_types import MonthFigures, MonthReport
from tests.storage.seed import H1, H2, LESSONS, NOW, TITLES, TRACKS, ZONE, Seeded, seed_commune

Sessions = async_sessionmaker[AsyncSession]

# Learners of every kind: 60+ who finished a track and said "Rồi" twice (1), an assisted completion just after
# midnight on 1/11 (2), a child (5, 17), no age group (6), no hamlet (19), an assisted track finisher (12), a
# first "Rồi" a few minutes before November (13), someone stuck half-way (9).
ERASED = (1, 2, 5, 6, 9, 12, 13, 17, 19)


@pytest.fixture
async def seeded(db_url: str) -> AsyncIterator[tuple[Sessions, Seeded]]:
    engine = create_engine(db_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    yield sessions, await seed_commune(sessions)
    await engine.dispose()


def counted(figures: MonthFigures) -> dict[str, Any]:
    """The figures anonymous counts keep (help requests go with the person)."""
    kept = dataclasses.asdict(figures)
    for name in ("escalations_opened", "escalations_resolved", "median_claim_minutes", "median_resolve_minutes",
                 "mean_rating"):
        kept.pop(name)
    return kept


async def figures(sessions: Sessions, place: Seeded) -> dict[str, Any]:
    async with sessions() as session:
        stats = StatsRepo(session)
        view = await stats.overview(place.commune_id, TRACKS, now=NOW, zone=ZONE)
        hamlet = await stats.overview(place.commune_id, TRACKS, hamlet_id=place.hamlets[H1], now=NOW, zone=ZONE)
        reports: list[MonthReport] = [await stats.month(place.commune_id, 2026, month, TRACKS, LESSONS, zone=ZONE,
                                                        track_titles=TITLES) for month in (10, 11, 12)]
    found: dict[str, Any] = {}
    for name, overview in (("commune", view), ("hamlet", hamlet)):
        found[name] = (overview.registered, overview.adults, overview.elders, overview.by_age, overview.by_hamlet,
                       overview.lessons_completed, overview.assisted_completions, overview.track_finishers,
                       overview.milestones, overview.finishers)
    for report in reports:
        found[report.period] = (counted(report.this_month), counted(report.previous), counted(report.to_date),
                                report.adults_to_date, report.by_hamlet,
                                [(row.lesson_id, row.started, row.finished) for row in report.by_lesson])
    return found


async def test_deleting_people_keeps_the_communes_counts(seeded: tuple[Sessions, Seeded]) -> None:
    sessions, place = seeded
    before = await figures(sessions, place)
    async with sessions() as session, session.begin():
        for person in ERASED:
            await PeopleRepo(session).erase(f"telegram:{person}", tracks=TRACKS, zone=ZONE)
    async with sessions() as session:
        left = set(await session.scalars(select(Person.id)))
    assert left.isdisjoint(ERASED)
    after = await figures(sessions, place)
    assert after == before
    # Not kept: who was active lately (the overview's 7 and 30 days) and their help requests.
    async with sessions() as session:
        view = await StatsRepo(session).overview(place.commune_id, TRACKS, now=NOW, zone=ZONE)
    assert view.active_30d < 17 and view.escalations.resolved < 6


async def test_anonymous_counts_name_nobody(seeded: tuple[Sessions, Seeded]) -> None:
    sessions, place = seeded
    async with sessions() as session, session.begin():
        await PeopleRepo(session).erase("telegram:13", tracks=TRACKS, zone=ZONE)
        await PeopleRepo(session).erase("telegram:20", tracks=TRACKS, zone=ZONE)  # an official: not a learner
    async with sessions() as session:
        rows = list(await session.scalars(select(AnonymousCount)))
        columns = set(AnonymousCount.__table__.columns.keys())
    assert columns == {"commune_id", "figure", "hamlet_id", "age_group", "key", "month", "count"}
    # 13 (30-59, Xóm Đoài): registered in October; active in October and November; zalo-a done 2/11 and zalo-b
    # 9/11 (the zalo track); "Rồi" to VNeID first on 31/10 23:30 local.
    h2 = place.hamlets[H2]
    october, november = (dt.datetime(2026, m, 1, tzinfo=ZONE).astimezone(dt.UTC) for m in (10, 11))
    assert sorted((r.figure, r.hamlet_id, r.age_group, r.key, r.month, r.count) for r in rows) == sorted([
        ("person", h2, "30-59", "", october, 1),
        ("active", h2, "", "", october, 1), ("active", h2, "", "", november, 1),
        ("lessons", h2, "", "", november, 2), ("finisher", h2, "", "", november, 1),
        ("first_finish", h2, "", "", november, 1), ("track", h2, "", "zalo", november, 1),
        ("milestone", h2, "", "vneid_level2", october, 1),
        ("lesson_started", 0, "", "zalo-a", october, 1), ("lesson_started", 0, "", "zalo-b", november, 1),
        ("lesson_done", 0, "", "zalo-a", november, 1), ("lesson_done", 0, "", "zalo-b", november, 1),
    ])
    # A second deletion in the same buckets adds to them; rows are never one person's.
    async with sessions() as session, session.begin():
        await PeopleRepo(session).erase("telegram:11", tracks=TRACKS, zone=ZONE)  # 16-29, Xóm Đoài, November
    async with sessions() as session:
        active = await session.scalar(select(AnonymousCount.count).where(
            AnonymousCount.figure == "active", AnonymousCount.month == november))
    assert active == 2


async def test_the_request_log_is_salted_matched_and_purged(db_url: str) -> None:
    engine = create_engine(db_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    now = utcnow()
    salt, other_salt = b"secret one", b"secret two"
    key = ref_hash("telegram:123456789", salt)
    assert key == ref_hash("telegram:123456789", salt) != ref_hash("telegram:123456789", other_salt)
    assert key != hashlib.sha256(b"telegram:123456789").hexdigest() and len(key) == 64
    async with sessions() as session, session.begin():
        repo = DataRequestsRepo(session)
        await repo.log(key, "copy", done=True, now=now - dt.timedelta(days=4 * 365))
        await repo.log(key, "delete", done=True, now=now - dt.timedelta(days=10))
        await repo.log(ref_hash("telegram:2", salt), "withdraw", done=True, now=now)
        consent = ConsentRepo(session)
        refused = await consent.record(ref="telegram:7", channel="telegram", purpose="learning", text_version="v2",
                                       text="…", granted=False)  # never joined
        commune = await PlacesRepo(session).ensure_commune("xã Thử", ["Xóm 1"])
        await PeopleRepo(session).create("telegram:9", commune.id)
        kept = await consent.record(ref="telegram:9", channel="telegram", purpose="help", text_version="v2",
                                    text="…", granted=False)  # has a profile: their latest answer counts
        recent = await consent.record(ref="telegram:10", channel="telegram", purpose="learning",
                                      text_version="v2", text="…", granted=False)
        refused.at = kept.at = now - dt.timedelta(days=400)
        recent.at = now - dt.timedelta(days=30)
    async with sessions() as session:
        assert [r.kind for r in await DataRequestsRepo(session).of(key)] == ["copy", "delete"]  # matched
    async with sessions() as session, session.begin():
        purged = await DataRequestsRepo(session).purge(now, Retention(requests=dt.timedelta(days=3 * 365),
                                                                      declined=dt.timedelta(days=365)))
    assert purged == 2  # the 4-year-old request, and telegram:7's refusal (no profile)
    async with sessions() as session:
        assert [r.kind for r in await DataRequestsRepo(session).of(key)] == ["delete"]
        refusals = sorted((c.person_ref, c.granted) for c in await session.scalars(select(ConsentRecord)))
        hashes = list(await session.scalars(select(DataRequest.ref_hash)))
    assert refusals == [("telegram:10", False), ("telegram:9", False)]
    assert all("telegram" not in h for h in hashes)
    await engine.dispose()


async def test_migration_0007_forgets_unsalted_hashes_and_unconfirmed_children(db_url: str) -> None:
    engine = create_engine(db_url)
    await migrate.upgrade(engine, "0006")
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        await session.execute(text("INSERT INTO communes (id, name) VALUES (1, 'xã Thử')"))
        await session.execute(text("INSERT INTO hamlets (id, commune_id, name, position, active) "
                                   "VALUES (1, 1, 'Xóm 1', 0, true)"))
        for pid, age, confirmed in ((1, "u16", False), (2, "u16", True), (3, "60+", False)):
            await session.execute(text(
                "INSERT INTO people (id, ref, commune_id, hamlet_id, age_group, guardian_confirmed, is_mentor, "
                "is_official, mentor_paused, announcements_off, state, created_at, last_seen_at) VALUES "
                "(:id, :ref, 1, 1, :age, :ok, false, false, false, false, '{}', :at, :at)"),
                {"id": pid, "ref": f"telegram:{pid}", "age": age, "ok": confirmed, "at": utcnow()})
        await session.execute(text(
            "INSERT INTO escalations (person_id, commune_id, hamlet_id, age_group, kind, question, context, status, "
            "level, created_at, reopened, phone_shared) VALUES (1, 1, 1, 'u16', 'question', '', '{}', 'open', 0, "
            ":at, 0, false)"), {"at": utcnow()})
        await session.execute(text(
            "INSERT INTO data_requests (ref_hash, kind, requested_at, due_at) VALUES (:h, 'copy', :at, :at)"),
            {"h": hashlib.sha256(b"telegram:1").hexdigest(), "at": utcnow()})
    await migrate.upgrade(engine)
    async with sessions() as session:
        people = {p.id: (p.hamlet_id, p.age_group) for p in await session.scalars(select(Person))}
        escalation = (await session.execute(text("SELECT hamlet_id, age_group FROM escalations"))).one()
        hashes = list(await session.scalars(select(DataRequest.ref_hash)))
        anonymous = await session.scalar(select(func.count()).select_from(AnonymousCount))
    assert people == {1: (None, None), 2: (1, "u16"), 3: (1, "60+")}
    assert tuple(escalation) == (None, None)
    assert hashes == [""] and anonymous == 0
    await engine.dispose()
