"""The monthly workbook, the chat summary and the overview chart, made from the seeded commune of
tests/storage/seed.py."""

from __future__ import annotations

import datetime as dt
import io
import pathlib
import time
import unicodedata
import warnings
from collections.abc import AsyncIterator

import openpyxl
import pytest
from PIL import Image

from bot.media.chart import overview_chart
from bot.media.report import (
    SHEETS,
    SUMMARY_FIRST_ROW,
    SUMMARY_HEADER,
    TITLE,
    catalog_inputs,
    monthly_workbook,
    summary_rows,
    summary_text,
)
from lessons import catalog
from storage import migrate
from storage.db import create_engine, session_factory
from storage.stats import EscalationFigures, HamletRow, MilestoneShare, Overview, StatsRepo
from storage.stats_types import MonthReport
from tests.storage.seed import H1, LESSONS, NOW, TITLES, TRACKS, ZONE, seed_commune


@pytest.fixture
async def figures(tmp_path: pathlib.Path) -> AsyncIterator[tuple[MonthReport, Overview]]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    place = await seed_commune(sessions)
    async with sessions() as session:
        report = await StatsRepo(session).month(place.commune_id, 2026, 11, TRACKS, LESSONS, zone=ZONE,
                                                track_titles=TITLES)
        view = await StatsRepo(session).overview(place.commune_id, TRACKS, now=NOW, zone=ZONE)
    yield report, view
    await engine.dispose()


def open_book(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


def nfc(text: str) -> bool:
    return unicodedata.normalize("NFC", text) == text


# ---- the workbook -------------------------------------------------------------------------------------------------

async def test_the_workbook_has_the_official_shape(figures: tuple[MonthReport, Overview]) -> None:
    report, _ = figures
    book = open_book(monthly_workbook(report, commune="Xã Bạch Ngọc"))
    assert book.sheetnames == ["Tổng hợp", "Theo xóm", "Theo bài học", "Theo tình nguyện viên", "Khen thưởng",
                               "Thi trắc nghiệm"] == list(SHEETS)
    sheet = book["Tổng hợp"]
    assert sheet["A1"].value == "ỦY BAN NHÂN DÂN XÃ BẠCH NGỌC"
    assert sheet["C1"].value == "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
    assert sheet["A4"].value == TITLE == "BÁO CÁO KẾT QUẢ PHONG TRÀO «BÌNH DÂN HỌC VỤ SỐ»"
    assert sheet["A5"].value == "Tháng 11/2026"
    assert tuple(c.value for c in sheet[7]) == SUMMARY_HEADER == ("Chỉ tiêu", "Tháng này", "Tháng trước",
                                                                  "Tăng/giảm", "Lũy kế")
    assert all(c.font.bold for c in sheet[7]) and sheet["A1"].font.bold and sheet["A4"].font.bold
    assert sheet.freeze_panes == f"A{SUMMARY_FIRST_ROW}"
    assert sheet.column_dimensions["A"].width > 40 and sheet.column_dimensions["E"].width >= 12
    for name in SHEETS[1:]:
        other = book[name]
        assert other.freeze_panes == "A3" and all(c.font.bold for c in other[2] if c.value)
        assert other.column_dimensions["A"].width >= 8


async def test_the_summary_table_holds_every_figure_of_the_report(figures: tuple[MonthReport, Overview]) -> None:
    report, _ = figures
    sheet = open_book(monthly_workbook(report, commune="Xã Bạch Ngọc"))["Tổng hợp"]
    rows = summary_rows(report)
    written = [tuple(c.value for c in sheet[SUMMARY_FIRST_ROW + i]) for i in range(len(rows))]
    assert written == [(r.label, r.this_month, r.previous, r.change, r.to_date) for r in rows]
    by_label = {row[0]: row[1:] for row in written}
    # The literals of tests/storage/test_stats.py, as the official reads them.
    assert by_label["Người dân đăng ký mới (lũy kế: tổng số đã đăng ký)"] == (7, 6, 1, 19)
    assert by_label["Người dân có hoạt động học trong tháng"] == (15, 9, 6, None)
    assert by_label["Lượt hoàn thành bài học"] == (8, 4, 4, 16)
    assert by_label["   trong đó: có tình nguyện viên kèm cặp 1-1"] == (2, 0, 2, 2)
    assert by_label["Người hoàn thành chủ đề «Zalo»"] == (2, 1, 1, 4)
    assert by_label["Người hoàn thành chủ đề «Dịch vụ công trực tuyến»"] == (2, 0, 2, 4)
    assert by_label["Yêu cầu hỗ trợ mới"] == (6, 2, 4, 8)
    assert by_label["Yêu cầu hỗ trợ đã giải quyết"] == (5, 1, 4, 6)
    assert by_label["Thời gian chờ được nhận hỗ trợ (trung vị, phút)"] == (30, 32.5, -2.5, 30)
    assert by_label["Thời gian giải quyết hỗ trợ (trung vị, phút)"] == (120, 60, 60, 120)
    assert by_label["Mức hài lòng trung bình (1–5 sao)"] == (3.8, None, None, 3.8)
    assert by_label["Người từ 16 tuổi mới đạt mốc: Kích hoạt VNeID mức 2"] == (2, 1, 1, 4)
    assert by_label["Người từ 16 tuổi mới đạt mốc: Bán hàng qua mạng"] == (1, 0, 1, 1)
    for i in range(len(rows)):  # numbers are numbers, each with a number format
        for cell in sheet[SUMMARY_FIRST_ROW + i][1:]:
            assert cell.value is None or isinstance(cell.value, int | float)
            assert cell.number_format != "General"
    shares = {sheet.cell(r, 1).value: sheet.cell(r, 3) for r in range(1, sheet.max_row + 1)}
    assert shares["Kích hoạt VNeID mức 2"].value == 0.25 and shares["Kích hoạt VNeID mức 2"].number_format.endswith("%")


async def test_the_detail_sheets(figures: tuple[MonthReport, Overview]) -> None:
    report, _ = figures
    book = open_book(monthly_workbook(report, commune="Xã Bạch Ngọc"))
    hamlets = [tuple(c.value for c in row) for row in book["Theo xóm"].iter_rows(min_row=3)]
    assert hamlets[0] == (H1, 7, 2, 5, 3, 3, 1, 5, 5 / 7)
    assert hamlets[-1] == ("Tổng cộng", 19, 7, 15, 7, 8, 2, 11, 11 / 19)
    assert book["Theo xóm"].cell(3, 9).number_format.endswith("%")
    first, count = book["Theo xóm"].cell(3, 1), book["Theo xóm"].cell(3, 2)  # a table's cells: boxed, formatted
    assert all(side.style == "thin" for cell in (first, count)
               for side in (cell.border.left, cell.border.right, cell.border.top, cell.border.bottom))
    assert first.alignment.wrap_text and count.number_format == "#,##0" and not count.font.bold
    assert book["Theo xóm"].cell(len(hamlets) + 2, 1).font.bold  # the total row
    lessons = [tuple(c.value for c in row) for row in book["Theo bài học"].iter_rows(min_row=3)]
    assert lessons[0] == ("Quét mã QR bằng Zalo", "zalo-a", 7, 4, "bước 2/4", 3)
    mentors = [tuple(c.value for c in row) for row in book["Theo tình nguyện viên"].iter_rows(min_row=3)]
    assert mentors[0] == ("Lan – Đoàn thanh niên", 2, 2, 4.5, 4)
    praise = [row[1] for row in book["Khen thưởng"].iter_rows(min_row=3, values_only=True)]
    assert {"Nguyễn Thị Hoa", "Người dân #7 (Xóm Đông)", "Trần Văn Ba", "Mai", "Xóm Đoài"} <= set(praise)
    contest = [row for row in book["Thi trắc nghiệm"].iter_rows(min_row=3, values_only=True)]
    assert contest[0] == ("Thi tìm hiểu VNeID tháng 11", "10/11/2026 – 20/11/2026", 5, 1, "Người dân #4 (Xóm Đông)",
                          9, 350)
    texts = [c.value for sheet in book.worksheets for row in sheet.iter_rows() for c in row if isinstance(c.value, str)]
    assert all(nfc(text) for text in texts)


async def test_summary_text_for_chat(figures: tuple[MonthReport, Overview]) -> None:
    report, _ = figures
    text = summary_text(report)
    lines = text.splitlines()
    assert 5 <= len(lines) <= 12 and nfc(text)
    assert lines[0] == "📊 Bình dân học vụ số – tháng 11/2026, xã Bạch Ngọc"
    for figure in ("Đăng ký mới: 7 người (tháng trước 6); tổng cộng 19 người", "Có học trong tháng: 15 người",
                   "Hoàn thành bài học: 8 lượt, 2 lượt có kèm cặp (tháng trước 4)", "«Zalo» 2 người",
                   "6 yêu cầu mới, 5 đã giải quyết", "chờ nhận 30 phút", "xong sau 2 giờ", "hài lòng 3,8/5 sao",
                   "Kích hoạt VNeID mức 2: 2", "Xóm Đông 71%", "Nguyễn Thị Hoa", "Lan – Đoàn thanh niên (2 ca)",
                   "Thi tìm hiểu VNeID tháng 11: 5 người dự thi; nhất: Người dân #4 (Xóm Đông)"):
        assert figure in text, figure


def test_catalog_inputs_come_from_the_shipped_lessons() -> None:
    shipped = catalog.load()
    tracks, lessons, titles = catalog_inputs(shipped)
    assert list(tracks) == [t.id for t in shipped.tracks] and titles[shipped.tracks[0].id] == shipped.tracks[0].title
    assert [lesson_id for lesson_id, _, _ in lessons] == [lesson.id for lesson in shipped.in_order()]
    assert all(steps for _, _, steps in lessons)


# ---- the chart ----------------------------------------------------------------------------------------------------

def check_png(png: bytes) -> Image.Image:
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) < 300_000
    picture = Image.open(io.BytesIO(png))
    picture.load()
    assert picture.format == "PNG" and 600 <= picture.width <= 1200 and 600 <= picture.height <= 3000
    return picture


async def test_the_overview_chart(figures: tuple[MonthReport, Overview]) -> None:
    _, view = figures
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a glyph missing from the font would warn
        started = time.perf_counter()
        png = overview_chart(view, title="Xã Bạch Ngọc")
        took = time.perf_counter() - started
    print(f"\nchart: {len(png) / 1000:.0f} kB in {took * 1000:.0f} ms")
    picture = check_png(png)
    assert picture.height > picture.width  # a phone is held upright


def test_a_chart_for_many_hamlets_stays_small() -> None:
    rows = [HamletRow(i, f"Thôn Nguyễn Huệ Đông Bắc {i}", 4000 + i * 50, 1500 + i * 20, 9000, 800) for i in range(20)]
    view = Overview(as_of=dt.datetime(2026, 11, 20, 3, tzinfo=dt.UTC), hamlet_id=None,
                    registered=sum(r.registered for r in rows), adults=70_000, elders=20_000, active_7d=0,
                    active_30d=0, lessons_completed=0, assisted_completions=0, track_finishers={}, by_hamlet=rows,
                    by_age={"u16": 9000, "16-29": 20_000, "30-59": 30_000, "60+": 20_000},
                    escalations=EscalationFigures(0, 0, 0, None, None, None), mentors_active=0,
                    milestones={"vneid_level2": MilestoneShare(70_000, 1.0)})
    check_png(overview_chart(view))
    empty = Overview(as_of=view.as_of, hamlet_id=None, registered=0, adults=0, elders=0, active_7d=0, active_30d=0,
                     lessons_completed=0, assisted_completions=0, track_finishers={}, by_hamlet=[],
                     by_age={"u16": 0, "16-29": 0, "30-59": 0, "60+": 0},
                     escalations=EscalationFigures(0, 0, 0, None, None, None), mentors_active=0, milestones={})
    check_png(overview_chart(empty, title="Xã Mới"))
