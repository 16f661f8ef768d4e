"""A small commune with known figures for the statistics tests, and a large generated one for timing.

`seed_commune` builds "xã Bạch Ngọc" through the real migrations and ORM models: 3 active hamlets and an inactive
one, 19 registered people (every age group, one without an age, one without a hamlet), an official, mentors, lesson
progress and events at chosen local times in October and November 2026 (some a few minutes either side of midnight
on 31/10, to test the month boundary in Asia/Ho_Chi_Minh), help requests with chosen claim/resolve times and
ratings, certificates, contests — and a second commune whose rows must never be counted. The expected figures are
written out as literals in tests/storage/test_stats.py, worked out by hand from the table below.

`seed_large` fills a commune with generated people, progress rows and events for timing the queries.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import Commune, Hamlet, LessonProgress, Person, ProgressEvent
from storage.models_commune import Contest, ContestEntry
from storage.models_help import Certificate, Escalation, MentorHamlet
from storage.stats_sql import VN_ZONE

ZONE = VN_ZONE
TRACKS: dict[str, list[str]] = {"zalo": ["zalo-a", "zalo-b"], "dvc": ["dvc-a"]}
TITLES = {"zalo": "Zalo", "dvc": "Dịch vụ công trực tuyến"}
LESSONS: list[tuple[str, str, list[str]]] = [
    ("zalo-a", "Quét mã QR bằng Zalo", ["mo-app", "quet", "gui", "xong"]),
    ("zalo-b", "Gọi video qua Zalo", ["s1", "s2"]),
    ("dvc-a", "Đăng nhập VNeID", ["b1", "b2", "b3"]),
]


def vn(month: int, day: int, hour: int = 9, minute: int = 0, year: int = 2026) -> dt.datetime:
    """A local (Asia/Ho_Chi_Minh) time, as the UTC instant the database stores."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=ZONE).astimezone(dt.UTC)


NOW = vn(11, 20, 10)  # the overview's "now": 20/11/2026 10:00 local

H1, H2, H3, H4 = "Xóm Đông", "Xóm Đoài", "Xóm Chợ", "Xóm Cũ"

# id: (hamlet, age group, created, last seen, extra Person fields)
PEOPLE: dict[int, tuple[str | None, str | None, dt.datetime, dt.datetime, dict[str, Any]]] = {
    1: (H1, "60+", vn(9, 10), vn(11, 19), {}),
    2: (H1, "60+", vn(10, 5), vn(11, 1, 0, 30), {}),
    3: (H1, "30-59", vn(8, 1), vn(11, 20, 8), {"is_mentor": True, "display_name": "Lan – Đoàn thanh niên"}),
    4: (H1, "16-29", vn(11, 1, 0, 30), vn(11, 14, 0, 0), {}),
    5: (H1, "u16", vn(10, 31, 23, 30), vn(10, 31, 23, 30), {"guardian_confirmed": True}),
    6: (H1, None, vn(9, 1), vn(9, 2), {}),
    7: (H1, "60+", vn(11, 3), vn(11, 13, 23, 59), {}),
    8: (H2, "60+", vn(10, 10), vn(11, 18), {}),
    9: (H2, "30-59", vn(10, 12), vn(10, 21, 23, 0), {}),
    10: (H2, "30-59", vn(7, 1), vn(11, 10), {"is_mentor": True, "mentor_paused": True, "display_name": "Hùng"}),
    11: (H2, "16-29", vn(11, 5), vn(11, 16), {}),
    12: (H2, "60+", vn(11, 6), vn(11, 6), {}),
    13: (H2, "30-59", vn(10, 20), vn(11, 19), {}),
    14: (H3, "60+", vn(10, 1), vn(11, 17), {}),
    15: (H3, "30-59", vn(6, 1), vn(11, 20), {"is_mentor": True, "display_name": "Mai"}),
    16: (H3, "16-29", vn(11, 10), vn(11, 10), {}),
    17: (H3, "u16", vn(11, 11), vn(11, 15), {"guardian_confirmed": True}),
    18: (H3, "30-59", vn(9, 20), vn(10, 25), {}),
    19: (None, "30-59", vn(11, 2), vn(11, 2), {}),
    20: (H1, "30-59", vn(5, 1), vn(11, 20), {"is_official": True, "display_name": "Cán bộ Bình"}),
}
MENTOR_HAMLETS = {3: [H1], 10: [H2], 15: [H2, H3]}

# (person, lesson, current step, started, completed, assisted by mentor id)
PROGRESS: list[tuple[int, str, str, dt.datetime, dt.datetime | None, int | None]] = [
    (1, "zalo-a", "xong", vn(10, 1), vn(10, 3), None),
    (1, "zalo-b", "s2", vn(11, 2), vn(11, 4), None),
    (2, "zalo-a", "xong", vn(10, 6), vn(11, 1, 0, 30), 3),
    (2, "zalo-b", "s2", vn(11, 2), None, None),
    (3, "zalo-a", "xong", vn(8, 2), vn(8, 3), None),
    (3, "zalo-b", "s2", vn(8, 4), vn(8, 5), None),
    (3, "dvc-a", "b3", vn(9, 1), vn(9, 2), None),
    (4, "zalo-a", "quet", vn(11, 1, 1, 0), None, None),
    (5, "zalo-a", "xong", vn(10, 31, 23, 40), vn(10, 31, 23, 50), None),
    (7, "dvc-a", "b3", vn(11, 3), vn(11, 5), None),
    (8, "zalo-a", "xong", vn(10, 11), vn(10, 12), None),
    (8, "zalo-b", "s2", vn(10, 13), vn(10, 20), None),
    (9, "zalo-a", "quet", vn(10, 12), None, None),
    (11, "zalo-a", "xong", vn(11, 5), vn(11, 6), None),
    (11, "dvc-a", "b2", vn(11, 7), None, None),
    (12, "zalo-a", "quet", vn(11, 6), None, None),
    (12, "dvc-a", "b3", vn(11, 6), vn(11, 8), 15),
    (13, "zalo-a", "xong", vn(10, 21), vn(11, 2), None),
    (13, "zalo-b", "s2", vn(11, 3), vn(11, 9), None),
    (14, "zalo-a", "gui", vn(11, 10), None, None),
    (16, "zalo-a", "quet", vn(11, 10), None, None),
    (17, "zalo-a", "xong", vn(11, 11), vn(11, 12), None),
    (18, "dvc-a", "b3", vn(9, 21), vn(9, 22), None),
    (19, "zalo-a", "gui", vn(11, 2), None, None),
    (20, "zalo-a", "xong", vn(11, 1), vn(11, 2), None),  # the official: never counted
]

# (person, milestone, yes?, at)
MILESTONES: list[tuple[int, str, bool, dt.datetime]] = [
    (1, "vneid_level2", True, vn(11, 4)),
    (1, "paid_bill", False, vn(11, 4)),
    (1, "paid_bill", True, vn(11, 15)),
    (3, "vneid_level2", True, vn(9, 2)),
    (3, "vneid_level2", True, vn(10, 5)),
    (8, "vneid_level2", False, vn(10, 20)),
    (11, "sold_online", True, vn(11, 6)),
    (12, "public_service", True, vn(11, 8)),
    (13, "vneid_level2", True, vn(10, 31, 23, 30)),
    (13, "vneid_level2", True, vn(11, 9)),
    (17, "vneid_level2", True, vn(11, 12)),  # under 16: not an adult, not counted
    (19, "vneid_level2", True, vn(11, 2)),
    (20, "vneid_level2", True, vn(11, 2)),  # the official
]

# (person, hamlet, status, created, claimed, claimed by, resolved, rating)
ESCALATIONS: list[tuple[int, str | None, str, dt.datetime, dt.datetime | None, int | None, dt.datetime | None,
                        int | None]] = [
    (2, H1, "resolved", vn(11, 1, 8), vn(11, 1, 8, 10), 3, vn(11, 1, 9), 5),  # claim 10', resolve 60'
    (4, H1, "resolved", vn(11, 3, 10), vn(11, 3, 10, 30), 3, vn(11, 3, 12), 4),  # 30', 120'
    (12, H2, "resolved", vn(11, 7, 9), vn(11, 7, 9, 20), 15, vn(11, 8, 9), 3),  # 20', 1440'
    (9, H2, "claimed", vn(11, 15, 14), vn(11, 15, 15), 15, None, None),  # 60'
    (14, H3, "open", vn(11, 19, 10), None, None, None, None),
    (8, H2, "resolved", vn(10, 10, 8), vn(10, 10, 8, 5), 10, vn(10, 10, 9), None),  # 5', 60', not rated
    (16, H3, "resolved", vn(10, 31, 20), vn(10, 31, 21), 15, vn(11, 1, 1), 5),  # 60', 300' (resolved in Nov)
    (19, None, "resolved", vn(11, 4, 10), vn(11, 4, 11), 20, vn(11, 4, 12), 2),  # the official helped: 60', 120'
]

# (person, name, track, issued on)
CERTIFICATES = [
    (1, "Nguyễn Thị Hoa", "zalo", dt.date(2026, 11, 4)),
    (3, "Lê Thị Lan", "zalo", dt.date(2026, 8, 5)),
    (3, "Lê Thị Lan", "dvc", dt.date(2026, 9, 2)),
    (8, "Phạm Văn Tám", "zalo", dt.date(2026, 10, 20)),
    (12, "Trần Văn Ba", "dvc", dt.date(2026, 11, 8)),
]

# (title, starts, ends, [(person, score, seconds or None when unfinished)])
CONTESTS = [
    ("Thi tìm hiểu VNeID tháng 11", vn(11, 10, 8), vn(11, 20, 20),
     [(1, 8, 300), (13, 9, 400), (4, 9, 350), (11, 7, 200), (14, 3, None)]),
    ("Thi Zalo tháng 10", vn(10, 1, 8), vn(10, 25, 20), [(8, 5, 100)]),
]


@dataclass(frozen=True)
class Seeded:
    commune_id: int
    other_commune_id: int
    hamlets: dict[str, int]  # name → id


def progress_events(person: int, lesson: str, step: str, started: dt.datetime, completed: dt.datetime | None,
                    mentor: int | None) -> list[ProgressEvent]:
    """The events ProgressRepo would have written for one progress row."""
    steps = next(s for lid, _, s in LESSONS if lid == lesson)
    found = [ProgressEvent(person_id=person, kind="lesson_started", lesson_id=lesson, step_id=steps[0], at=started)]
    if completed is None:
        found.append(ProgressEvent(person_id=person, kind="step_reached", lesson_id=lesson, step_id=step,
                                   at=started + dt.timedelta(minutes=5)))
    elif mentor is None:
        found += [ProgressEvent(person_id=person, kind="quiz_finished", lesson_id=lesson, value=3, at=completed),
                  ProgressEvent(person_id=person, kind="lesson_completed", lesson_id=lesson, value=3, at=completed)]
    else:
        # ProgressRepo.assisted also writes "lesson_completed_assisted", 25 characters for a VARCHAR(24) column:
        # PostgreSQL refuses it (reported). The statistics read `lesson_progress.assisted`, so it is left out here.
        found += [ProgressEvent(person_id=person, kind="step_assisted", lesson_id=lesson, step_id=s, value=mentor,
                                at=completed) for s in steps]
    return found


async def seed_commune(sessions: async_sessionmaker[AsyncSession]) -> Seeded:
    async with sessions() as session, session.begin():
        commune = Commune(name="xã Bạch Ngọc")
        other = Commune(name="xã Khác")
        session.add_all([commune, other])
        await session.flush()
        hamlets = {name: Hamlet(commune_id=commune.id, name=name, position=i, active=name != H4)
                   for i, name in enumerate([H1, H2, H3, H4])}
        elsewhere = Hamlet(commune_id=other.id, name="Thôn Một", position=0)
        session.add_all([*hamlets.values(), elsewhere])
        await session.flush()
        hid = {name: h.id for name, h in hamlets.items()}
        for pid, (hamlet, age, created, seen, extra) in PEOPLE.items():
            session.add(Person(id=pid, ref=f"telegram:{pid}", commune_id=commune.id,
                               hamlet_id=hid[hamlet] if hamlet else None, age_group=age, created_at=created,
                               last_seen_at=seen, **extra))
        # The other commune: a finisher, a milestone, a mentor, a help request and a contest; none count for ours.
        session.add_all([
            Person(id=21, ref="telegram:21", commune_id=other.id, hamlet_id=None, age_group="60+",
                   created_at=vn(11, 1), last_seen_at=vn(11, 19)),
            Person(id=22, ref="telegram:22", commune_id=other.id, age_group="30-59", is_mentor=True,
                   display_name="Tuấn", created_at=vn(7, 1), last_seen_at=vn(11, 19)),
        ])
        await session.flush()
        for mentor, names in MENTOR_HAMLETS.items():
            session.add_all(MentorHamlet(person_id=mentor, hamlet_id=hid[name]) for name in names)
        rows = [*PROGRESS, (21, "zalo-a", "xong", vn(11, 2), vn(11, 3), None),
                (21, "zalo-b", "s2", vn(11, 4), vn(11, 5), None)]
        for person, lesson, step, started, completed, mentor in rows:
            session.add(LessonProgress(person_id=person, lesson_id=lesson, step_id=step, started_at=started,
                                       completed_at=completed, assisted=mentor is not None,
                                       attempts=1 if completed else 0, best_score=3 if completed else 0))
            session.add_all(progress_events(person, lesson, step, started, completed, mentor))
        for person, milestone, yes, at in [*MILESTONES, (21, "vneid_level2", True, vn(11, 5))]:
            session.add(ProgressEvent(person_id=person, kind="milestone", lesson_id="dvc-a", step_id=milestone,
                                      value=1 if yes else 0, at=at))
        for person, hamlet, status, created, claimed, by, resolved, rating in ESCALATIONS:
            session.add(Escalation(person_id=person, commune_id=commune.id, hamlet_id=hid[hamlet] if hamlet else None,
                                   age_group=PEOPLE[person][1], lesson_id="zalo-a", kind="question",
                                   question="Cháu ơi bác bấm vào đâu?", status=status, created_at=created,
                                   claimed_at=claimed, claimed_by=by, resolved_at=resolved, rating=rating))
        session.add(Escalation(person_id=21, commune_id=other.id, kind="question", status="resolved",
                               created_at=vn(11, 2), claimed_at=vn(11, 2, 10), claimed_by=22,
                               resolved_at=vn(11, 2, 11), rating=1))
        for person, name, track, issued in CERTIFICATES:
            session.add(Certificate(person_id=person, code_hash=f"{person}-{track}", name=name, track_id=track,
                                    track_title=TITLES[track], commune_name="xã Bạch Ngọc", issued_on=issued))
        for title, starts, ends, entries in CONTESTS:
            contest = Contest(commune_id=commune.id, title=title, questions=[], starts_at=starts, ends_at=ends)
            session.add(contest)
            await session.flush()
            session.add_all(ContestEntry(contest_id=contest.id, person_id=p, score=score, answered=10,
                                         seconds=seconds, started_at=starts,
                                         finished_at=None if seconds is None else starts + dt.timedelta(hours=1))
                            for p, score, seconds in entries)
        contest = Contest(commune_id=other.id, title="Thi xã Khác", questions=[], starts_at=vn(11, 1),
                          ends_at=vn(11, 15))
        session.add(contest)
        await session.flush()
        session.add(ContestEntry(contest_id=contest.id, person_id=21, score=10, answered=10, seconds=50,
                                 started_at=vn(11, 2), finished_at=vn(11, 2, 10)))
    return Seeded(commune.id, other.id, hid)


# ---- a large generated commune ------------------------------------------------------------------------------------

async def seed_large(sessions: async_sessionmaker[AsyncSession], *, people: int = 20_000, events: int = 200_000,
                     hamlets: int = 12, seed: int = 7) -> int:
    """A commune of `people` learners spread over a year, about 3 lesson rows each, `events` progress events
    (with milestones and assisted steps among them) and a help request per 50 people. Returns its id."""
    rng = random.Random(seed)
    start = vn(1, 1, 0)
    span = int((NOW - start).total_seconds())
    lessons = [lid for lid, _, _ in LESSONS]

    def moment() -> dt.datetime:
        return start + dt.timedelta(seconds=rng.randrange(span))

    async with sessions() as session, session.begin():
        commune = Commune(name=f"xã Lớn {seed}")
        session.add(commune)
        await session.flush()
        rows = [Hamlet(commune_id=commune.id, name=f"Thôn {i + 1}", position=i) for i in range(hamlets)]
        session.add_all(rows)
        await session.flush()
        hamlet_ids = [h.id for h in rows]
        base = 1_000_000 * seed
        person_rows, progress_rows = [], []
        for i in range(people):
            created = moment()
            person_rows.append({
                "id": base + i, "ref": f"web:{seed}-{i}", "commune_id": commune.id,
                "hamlet_id": rng.choice(hamlet_ids), "age_group": rng.choice(["u16", "16-29", "30-59", "60+", None]),
                "is_mentor": i % 100 == 0, "created_at": created,
                "last_seen_at": created + dt.timedelta(seconds=rng.randrange(int((NOW - created).total_seconds()) + 1)),
                "state": {},
            })
            for lesson in rng.sample(lessons, rng.randrange(4)):
                begun = created + dt.timedelta(hours=rng.randrange(24 * 30))
                done = begun + dt.timedelta(hours=rng.randrange(72)) if rng.random() < 0.6 else None
                progress_rows.append({"person_id": base + i, "lesson_id": lesson, "step_id": "s1",
                                      "started_at": begun, "completed_at": done, "assisted": rng.random() < 0.1})
        await session.execute(insert(Person.__table__), person_rows)
        await session.execute(insert(LessonProgress.__table__), progress_rows)
        kinds = ["step_reached"] * 14 + ["lesson_started", "practice_done", "quiz_finished", "lesson_completed",
                                         "milestone", "step_assisted"]
        milestones = ["vneid_level2", "paid_bill", "public_service", "sold_online"]
        batch: list[dict[str, Any]] = []
        for _ in range(events):
            kind = rng.choice(kinds)
            batch.append({"person_id": base + rng.randrange(people), "kind": kind, "lesson_id": rng.choice(lessons),
                          "step_id": rng.choice(milestones) if kind == "milestone" else "s1",
                          "value": rng.randrange(2) if kind == "milestone" else base, "at": moment()})
            if len(batch) == 50_000:
                await session.execute(insert(ProgressEvent.__table__), batch)
                batch = []
        if batch:
            await session.execute(insert(ProgressEvent.__table__), batch)
        help_rows = []
        for _ in range(people // 50):
            created = moment()
            claimed = created + dt.timedelta(minutes=rng.randrange(5, 600))
            help_rows.append({"person_id": base + rng.randrange(people), "commune_id": commune.id,
                              "kind": "question", "question": "", "context": {}, "status": "resolved",
                              "created_at": created, "claimed_at": claimed, "claimed_by": base,
                              "resolved_at": claimed + dt.timedelta(minutes=rng.randrange(5, 600)),
                              "rating": rng.randrange(1, 6)})
        await session.execute(insert(Escalation.__table__), help_rows)
    return commune.id
