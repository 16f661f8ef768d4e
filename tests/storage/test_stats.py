"""Statistics for officials against the seeded commune of tests/storage/seed.py, whose figures were worked out by
hand from its tables (the reasoning is in the comments), on SQLite and PostgreSQL; and a timing run on a larger
generated commune."""

from __future__ import annotations

import datetime as dt
import pathlib
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import migrate
from storage.db import create_engine, session_factory
from storage.stats import EscalationFigures, HamletRow, MilestoneShare, StatsRepo
from storage.stats_month import previous_month
from storage.stats_sql import NO_HAMLET, month_bounds
from storage.stats_types import (
    Commendations,
    ContestWinner,
    HamletCommendation,
    LessonRow,
    MentorCommendation,
    MentorRow,
    MonthFigures,
    MonthHamletRow,
)
from tests.storage.seed import H1, H2, H3, LESSONS, NOW, TITLES, TRACKS, ZONE, Seeded, seed_commune, seed_large, vn

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def seeded(db_url: str) -> AsyncIterator[tuple[Sessions, Seeded]]:
    engine = create_engine(db_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    yield sessions, await seed_commune(sessions)
    await engine.dispose()


async def test_overview_of_the_commune(seeded: tuple[Sessions, Seeded]) -> None:
    sessions, place = seeded
    async with sessions() as session:
        view = await StatsRepo(session).overview(place.commune_id, TRACKS, now=NOW, zone=ZONE)
    h = place.hamlets
    # People 1-19 (20 is an official, 21-22 live in the other commune). Adults: all but 5 and 17 (u16) and 6 (no age).
    assert (view.registered, view.adults, view.elders) == (19, 16, 6)
    assert view.by_age == {"u16": 2, "16-29": 3, "30-59": 7, "60+": 6, "unknown": 1}
    # Now is 20/11 10:00 local. 7 days: seen since 14/11 00:00 → 1, 3, 4 (exactly 00:00), 8, 11, 13, 14, 15, 17;
    # 7 (13/11 23:59) misses it. 30 days: since 22/10 00:00 → everyone but 6 (2/9) and 9 (21/10 23:00).
    assert (view.active_7d, view.active_30d) == (9, 17)
    # Completed rows: 1:2, 2:1 (assisted), 3:3, 5:1, 7:1, 8:2, 11:1, 12:1 (assisted), 13:2, 17:1, 18:1.
    assert (view.lessons_completed, view.assisted_completions) == (16, 2)
    # zalo = zalo-a + zalo-b: 1, 3, 8, 13. dvc = dvc-a: 3, 7, 12, 18.
    assert view.track_finishers == {"zalo": 4, "dvc": 4}
    assert view.finishers == 11
    assert view.by_hamlet == [
        HamletRow(h[H1], H1, registered=7, finishers=5, lessons_completed=8, elders=3),  # 1, 2, 3, 5, 7 finished
        HamletRow(h[H2], H2, registered=6, finishers=4, lessons_completed=6, elders=2),  # 8, 11, 12, 13
        HamletRow(h[H3], H3, registered=5, finishers=2, lessons_completed=2, elders=1),  # 17, 18
        HamletRow(None, NO_HAMLET, registered=1, finishers=0, lessons_completed=0, elders=0),  # 19; Xóm Cũ is gone
    ]
    # Claim minutes 10, 30, 20, 60, 5, 60, 60 → median 30; resolve 60, 120, 1440, 60, 300, 120 → (120 + 120) / 2;
    # ratings 5, 4, 3, 5, 2 → 3.8. The other commune's request (rated 1) is not ours.
    assert view.escalations == EscalationFigures(open=1, claimed=1, resolved=6, median_claim_minutes=30.0,
                                                 median_resolve_minutes=120.0, mean_rating=3.8)
    assert view.mentors_active == 2  # Lan and Mai; Hùng is paused, Tuấn serves the other commune
    # Adults who ever said yes: VNeID 1, 3, 13 (twice), 19; 17 is under 16 and 20 an official. Shares of 16 adults.
    assert view.milestones == {"paid_bill": MilestoneShare(1, 0.0625), "public_service": MilestoneShare(1, 0.0625),
                               "sold_online": MilestoneShare(1, 0.0625), "vneid_level2": MilestoneShare(4, 0.25)}


async def test_overview_of_one_hamlet(seeded: tuple[Sessions, Seeded]) -> None:
    sessions, place = seeded
    async with sessions() as session:
        view = await StatsRepo(session).overview(place.commune_id, TRACKS, hamlet_id=place.hamlets[H1], now=NOW,
                                                 zone=ZONE)
    assert (view.registered, view.adults, view.elders, view.active_7d, view.active_30d) == (7, 5, 3, 3, 6)
    assert view.by_age == {"u16": 1, "16-29": 1, "30-59": 1, "60+": 3, "unknown": 1}
    assert (view.lessons_completed, view.assisted_completions) == (8, 1)
    assert view.track_finishers == {"zalo": 2, "dvc": 2}  # zalo: 1, 3; dvc: 3, 7
    assert view.by_hamlet == [HamletRow(place.hamlets[H1], H1, 7, 5, 8, 3)]
    # Its two requests: claimed after 10' and 30', resolved after 60' and 120', rated 5 and 4.
    assert view.escalations == EscalationFigures(0, 0, 2, 20.0, 90.0, 4.5)
    assert view.mentors_active == 1  # Lan serves Xóm Đông
    assert view.milestones == {"paid_bill": MilestoneShare(1, 0.2), "vneid_level2": MilestoneShare(2, 0.4)}


async def test_month_summary_this_month_previous_month_and_to_date(seeded: tuple[Sessions, Seeded]) -> None:
    sessions, place = seeded
    async with sessions() as session:
        report = await StatsRepo(session).month(place.commune_id, 2026, 11, TRACKS, LESSONS, zone=ZONE,
                                                track_titles=TITLES)
    assert (report.period, report.commune_name, report.year, report.month) == ("11/2026", "xã Bạch Ngọc", 2026, 11)
    assert report.track_titles == {"zalo": "Zalo", "dvc": "Dịch vụ công trực tuyến"}
    # November (local): new 4 (1/11 00:30 local is still 31/10 in UTC), 7, 11, 12, 16, 17, 19. Active: everyone
    # last seen in November (all but 5, 6, 9, 18). Completions: 1 zalo-b, 2 zalo-a (assisted, 1/11 00:30), 7, 11,
    # 12 (assisted), 13 ×2, 17. Finished tracks: zalo 1, 13; dvc 7, 12. Requests opened 1-5 and 8; resolved 1, 2, 3,
    # 8 and 7 (opened 31/10, resolved 1/11 01:00). Claims in November: 10, 30, 20, 60, 60 → 30; resolutions 60, 120,
    # 1440, 300, 120 → 120; ratings 5, 4, 3, 5, 2. First yeses: VNeID 1, 19 (13's first was on 31/10); the others one.
    assert report.this_month == MonthFigures(
        new_people=7, active_people=15, lessons_completed=8, assisted_completions=2,
        track_finishers={"zalo": 2, "dvc": 2}, escalations_opened=6, escalations_resolved=5,
        median_claim_minutes=30.0, median_resolve_minutes=120.0, mean_rating=3.8,
        milestones={"paid_bill": 1, "public_service": 1, "sold_online": 1, "vneid_level2": 2})
    # October: new 2, 5 (31/10 23:30), 8, 9, 13, 14. Active: registered (2, 5, 8, 9, 13, 14), last seen (5, 9, 18),
    # or with events (1, 2, 3's milestone, 5, 8, 9, 13). Completions 1 zalo-a, 5 (31/10 23:50), 8 ×2. Finished: 8
    # zalo. Requests opened 6, 7; resolved 6 (not rated); claimed 6 (5') and 7 (60') → 32.5.
    assert report.previous == MonthFigures(
        new_people=6, active_people=9, lessons_completed=4, assisted_completions=0,
        track_finishers={"zalo": 1, "dvc": 0}, escalations_opened=2, escalations_resolved=1,
        median_claim_minutes=32.5, median_resolve_minutes=60.0, mean_rating=None, milestones={"vneid_level2": 1})
    assert report.to_date == MonthFigures(
        new_people=19, active_people=None, lessons_completed=16, assisted_completions=2,
        track_finishers={"zalo": 4, "dvc": 4}, escalations_opened=8, escalations_resolved=6,
        median_claim_minutes=30.0, median_resolve_minutes=120.0, mean_rating=3.8,
        milestones={"paid_bill": 1, "public_service": 1, "sold_online": 1, "vneid_level2": 4})
    assert report.this_month.track_finishers_total == 4
    assert report.adults_to_date == 16
    assert report.milestone_share("vneid_level2") == 0.25 and report.milestone_share("nothing") == 0.0


async def test_month_tables(seeded: tuple[Sessions, Seeded]) -> None:
    sessions, place = seeded
    async with sessions() as session:
        report = await StatsRepo(session).month(place.commune_id, 2026, 11, TRACKS, LESSONS, zone=ZONE)
    h = place.hamlets
    assert report.track_titles == {"zalo": "zalo", "dvc": "dvc"}  # no titles given: the ids
    # hamlet: registered by 30/11, new, active, finished ≥1 lesson in Nov, lessons in Nov, assisted, finished to date
    assert report.by_hamlet == [
        MonthHamletRow(h[H1], H1, 7, 2, 5, 3, 3, 1, 5),  # new 4, 7; active 1-4, 7; finished 1, 2, 7
        MonthHamletRow(h[H2], H2, 6, 2, 5, 3, 4, 1, 4),  # new 11, 12; active all but 9; finished 11, 12, 13 (×2)
        MonthHamletRow(h[H3], H3, 5, 2, 4, 1, 1, 0, 2),  # new 16, 17; active 14-17; finished 17
        MonthHamletRow(None, NO_HAMLET, 1, 1, 1, 0, 0, 0, 0),
    ]
    assert report.by_hamlet[0].completion_rate == 5 / 7
    # zalo-a started in November by 4, 11, 12, 14, 16, 17, 19; of those unfinished: 4, 12, 16 at "quet" (step 2
    # of 4), 14 and 19 at "gui". zalo-b: 1, 2, 13 started, 2 stuck at s2. dvc-a: 7, 11, 12 started, 11 at b2.
    assert report.by_lesson == [
        LessonRow("zalo-a", "Quét mã QR bằng Zalo", 7, 4, "quet", "bước 2/4", 3),
        LessonRow("zalo-b", "Gọi video qua Zalo", 3, 2, "s2", "bước 2/2", 1),
        LessonRow("dvc-a", "Đăng nhập VNeID", 3, 2, "b2", "bước 2/3", 1),
    ]
    # Lan: requests 1 and 2, and the 4 steps of 2's assisted lesson. Mai: claimed 3 and 4 (7 was claimed in
    # October), resolved 3 and 7 (3 and 5 stars), 3 assisted steps. The official took 8. Hùng did nothing this month.
    assert report.by_mentor == [
        MentorRow(3, "Lan – Đoàn thanh niên", claimed=2, resolved=2, mean_rating=4.5, assisted_steps=4),
        MentorRow(15, "Mai", claimed=2, resolved=2, mean_rating=4.0, assisted_steps=3),
        MentorRow(20, "Cán bộ Bình", claimed=1, resolved=1, mean_rating=2.0, assisted_steps=0),
        MentorRow(10, "Hùng", claimed=0, resolved=0, mean_rating=None, assisted_steps=0),
    ]
    # The November contest only (the October one and the other commune's are left out). 5 entries, 14 unfinished;
    # 4 and 13 both scored 9, 4 was faster. 1 has a certificate, so her name.
    [contest] = report.contests
    assert (contest.title, contest.entries) == ("Thi tìm hiểu VNeID tháng 11", 5)
    assert contest.top == [ContestWinner(1, 4, "Người dân #4 (Xóm Đông)", 9, 350),
                           ContestWinner(2, 13, "Người dân #13 (Xóm Đoài)", 9, 400),
                           ContestWinner(3, 1, "Nguyễn Thị Hoa", 8, 300)]


async def test_commendations(seeded: tuple[Sessions, Seeded]) -> None:
    sessions, place = seeded
    async with sessions() as session:
        praise = await StatsRepo(session).commendations(place.commune_id, 2026, 11, TRACKS, zone=ZONE)
        report = await StatsRepo(session).month(place.commune_id, 2026, 11, TRACKS, LESSONS, zone=ZONE)
        october = await StatsRepo(session).commendations(place.commune_id, 2026, 10, TRACKS, zone=ZONE)
    assert praise == report.commendations
    # 60+ who finished a track in November: 1 (zalo, 4/11, certificate "Nguyễn Thị Hoa"), 7 (dvc, 5/11, no
    # certificate), 12 (dvc, 8/11, assisted, "Trần Văn Ba"). 8 finished zalo in October.
    assert [(e.person_id, e.name, e.hamlet, e.track_id, e.finished_at) for e in praise.elders] == [
        (1, "Nguyễn Thị Hoa", H1, "zalo", vn(11, 4)),
        (7, "Người dân #7 (Xóm Đông)", H1, "dvc", vn(11, 5)),
        (12, "Trần Văn Ba", H2, "dvc", vn(11, 8)),
    ]
    # Mentors only (the official is left out): Lan 2 resolved at 4.5 before Mai 2 at 4.0.
    assert praise.mentors == [MentorCommendation(3, "Lan – Đoàn thanh niên", 2, 4.5),
                              MentorCommendation(15, "Mai", 2, 4.0)]
    h = place.hamlets
    assert praise.hamlets == [HamletCommendation(h[H1], H1, 7, 5, 5 / 7), HamletCommendation(h[H2], H2, 6, 4, 4 / 6),
                              HamletCommendation(h[H3], H3, 5, 2, 0.4)]
    # October: 8 finished zalo (60+, certificate "Phạm Văn Tám"); Hùng resolved one, unrated. By 31/10 Xóm Đông had
    # 1, 2, 3, 5, 6 (finished: 1, 3, 5), Xóm Đoài 8, 9, 10, 13 and Xóm Chợ 14, 15, 18: fewer than 5.
    assert october == Commendations(
        elders=[october.elders[0]], mentors=[MentorCommendation(10, "Hùng", 1, None)],
        hamlets=[HamletCommendation(h[H1], H1, 5, 3, 0.6)])
    assert (october.elders[0].name, october.elders[0].track_id) == ("Phạm Văn Tám", "zalo")


async def test_an_empty_month_and_no_tracks(seeded: tuple[Sessions, Seeded]) -> None:
    sessions, place = seeded
    async with sessions() as session:
        report = await StatsRepo(session).month(place.commune_id, 2026, 1, {}, [], zone=ZONE)
        view = await StatsRepo(session).overview(place.other_commune_id, {}, now=NOW, zone=ZONE)
    assert report.period == "1/2026"
    assert report.this_month == MonthFigures(0, 0, 0, 0, {}, 0, 0, None, None, None, {})
    assert report.previous.new_people == 0 and report.to_date.new_people == 0  # everyone came later
    assert report.by_lesson == [] and report.contests == [] and report.commendations.elders == []
    assert (view.registered, view.lessons_completed, view.track_finishers, view.mentors_active) == (2, 2, {}, 1)


def test_month_bounds_are_local_calendar_months() -> None:
    assert month_bounds(2026, 11, ZONE) == (dt.datetime(2026, 10, 31, 17, tzinfo=dt.UTC),
                                            dt.datetime(2026, 11, 30, 17, tzinfo=dt.UTC))
    assert month_bounds(2026, 12, ZONE)[1] == dt.datetime(2026, 12, 31, 17, tzinfo=dt.UTC)
    assert previous_month(2026, 1) == (2025, 12) and previous_month(2026, 11) == (2026, 10)


async def test_timing_on_a_generated_commune(tmp_path: pathlib.Path) -> None:
    """20,000 people and 200,000 events on SQLite. Prints the times; asserts only that the figures add up."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'large.db'}")
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    started = time.perf_counter()
    commune_id = await seed_large(sessions, people=20_000, events=200_000)
    seeded_in = time.perf_counter() - started
    async with sessions() as session:
        started = time.perf_counter()
        view = await StatsRepo(session).overview(commune_id, TRACKS, now=NOW, zone=ZONE)
        overview_in = time.perf_counter() - started
        started = time.perf_counter()
        report = await StatsRepo(session).month(commune_id, 2026, 10, TRACKS, LESSONS, zone=ZONE)
        month_in = time.perf_counter() - started
    await engine.dispose()
    print(f"\nstats on 20,000 people / 200,000 events (SQLite): seed {seeded_in:.1f} s, "
          f"overview {overview_in * 1000:.0f} ms, month {month_in * 1000:.0f} ms")
    assert view.registered == 20_000 == sum(row.registered for row in view.by_hamlet)
    assert sum(view.by_age.values()) == 20_000
    assert view.lessons_completed == sum(row.lessons_completed for row in view.by_hamlet) > 0
    assert report.this_month.active_people == sum(row.active_people for row in report.by_hamlet) > 0
    assert report.to_date.lessons_completed <= view.lessons_completed
