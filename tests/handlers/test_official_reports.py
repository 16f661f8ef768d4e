"""/thongke, /baocao, /khenthuong through the bot; the report job on the 10th fires once across a restart;
`hocvuso report` writes the workbook."""

from __future__ import annotations

import datetime as dt
import io
import pathlib

import pytest
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import select

from bot.cli import main
from handlers.stats import next_report_time
from storage.models import Person
from storage.models_help import Job
from tests.harness import Chat, start_app


async def official_and_learner(app, recorder):  # type: ignore[no-untyped-def]
    learner = Chat(app, recorder, person="test:learner")
    await learner.onboard(hamlet="Xóm 2")
    await learner.choose("lesson:bai-hai")
    await learner.choose("next:bai-hai:mot")
    await learner.press("Rồi")
    official = Chat(app, recorder, person="test:official")
    await official.onboard()
    async with app.engine._sessions() as session, session.begin():
        (await session.scalars(select(Person).where(Person.ref == "test:official"))).one().is_official = True
    return official


async def test_stats_report_and_commendations_by_command(tmp_path: pathlib.Path) -> None:
    app, recorder = await start_app(tmp_path / "bot.db")
    try:
        official = await official_and_learner(app, recorder)
        await official.say("/thongke")
        reply = official.last[-1]
        assert "Đăng ký: 1 người" in reply.text and "Bài đã học xong: 1" in reply.text  # officials not counted
        assert reply.image is not None and Image.open(io.BytesIO(reply.image)).format == "PNG"
        await official.say("/thongke xom 2")
        assert "Thống kê Xóm 2" in official.last[-1].text and "Đăng ký: 1 người" in official.last[-1].text
        await official.say("/thongke Xóm 99")
        assert "Không có xóm đó" in official.text
        now = dt.datetime.now(dt.UTC).astimezone(app.engine._community.timezone)
        await official.say(f"/baocao {now:%m/%Y}")
        document = official.last[-1].document
        assert document is not None and official.last[-1].document_name == f"bao-cao-{now:%m-%Y}.xlsx"
        book = load_workbook(io.BytesIO(document))
        assert book.sheetnames == ["Tổng hợp", "Theo xóm", "Theo bài học", "Theo tình nguyện viên", "Khen thưởng",
                                   "Thi trắc nghiệm"]
        await official.say("/baocao 13/2026")
        assert "MM/YYYY" in official.text
        await official.say("/khenthuong")
        assert "Đề nghị khen thưởng" in official.text
    finally:
        await app.close()


async def test_the_report_job_on_the_10th_fires_once_across_a_restart(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "bot.db"
    app, recorder = await start_app(db)
    await official_and_learner(app, recorder)
    from bot.app import ensure_monthly_report

    await ensure_monthly_report(app.engine)
    await ensure_monthly_report(app.engine)  # idempotent
    async with app.engine._sessions() as session:
        [job] = list(await session.scalars(select(Job).where(Job.kind == "monthly_report")))
    local = job.run_at.astimezone(app.engine._community.timezone)
    assert (local.day, local.hour, local.minute) == (10, 7, 0)
    await app.close()

    app, recorder = await start_app(db, recorder)
    mark = len(recorder.sent)
    assert await app.engine.run_due_jobs(job.run_at + dt.timedelta(seconds=1)) == 1
    assert await app.engine.run_due_jobs(job.run_at + dt.timedelta(seconds=1)) == 0
    sent = [(who, reply) for who, reply in recorder.sent[mark:]]
    assert [who for who, _ in sent] == ["test:official"]
    assert sent[0][1].text.startswith("📑 Báo cáo tháng") and sent[0][1].document is not None
    async with app.engine._sessions() as session:
        jobs = list(await session.scalars(select(Job).where(Job.kind == "monthly_report").order_by(Job.run_at)))
    assert len(jobs) == 2 and jobs[0].done_at is not None and jobs[1].done_at is None
    assert jobs[1].run_at.astimezone(app.engine._community.timezone).day == 10
    assert jobs[1].run_at > jobs[0].run_at + dt.timedelta(days=27)
    await app.close()


def test_next_report_time() -> None:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    assert next_report_time(dt.datetime(2026, 11, 26, tzinfo=zone), zone) == dt.datetime(2026, 12, 10, 7, tzinfo=zone)
    assert next_report_time(dt.datetime(2026, 12, 10, 6, 59, tzinfo=zone), zone) == dt.datetime(2026, 12, 10, 7,
                                                                                              tzinfo=zone)
    assert next_report_time(dt.datetime(2026, 12, 10, 7, tzinfo=zone), zone) == dt.datetime(2027, 1, 10, 7, tzinfo=zone)


def test_report_command_writes_the_workbook(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOCVUSO_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'r.db'}")
    monkeypatch.setenv("HOCVUSO_COMMUNE", "xã Bạch Ngọc")
    monkeypatch.setenv("HOCVUSO_HAMLETS", "Xóm 1,Xóm 2")
    out = tmp_path / "bao-cao.xlsx"
    assert main(["report", "--month", "2026-11", "--out", str(out)]) == 0
    assert load_workbook(out).sheetnames[0] == "Tổng hợp"
    assert main(["report", "--month", "2026-13", "--out", str(out)]) == 2
