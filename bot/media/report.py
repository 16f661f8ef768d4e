"""The monthly report ("báo cáo tháng") of a commune as an Excel workbook for the commune office, and as a short text
for chat (Zalo cannot carry files).

    tracks, lessons, titles = catalog_inputs(catalog)
    report = await StatsRepo(session).month(commune.id, 2026, 11, tracks, lessons, zone=VN_ZONE, track_titles=titles)
    xlsx = monthly_workbook(report, commune="Xã Bạch Ngọc")
    text = summary_text(report)

The sheets: "Tổng hợp" (the shape of an official report: the People's Committee header, the title, the month, and a
table Chỉ tiêu | Tháng này | Tháng trước | Tăng/giảm | Lũy kế, then the milestones as shares of adults), "Theo xóm",
"Theo bài học", "Theo tình nguyện viên", "Khen thưởng", "Thi trắc nghiệm". Numbers are stored as numbers, shares as
fractions shown in % format; the header rows are frozen.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Literal, NamedTuple

from lessons.catalog import Catalog
from lessons.framework import MILESTONES
from storage.stats_sql import VN_ZONE, LessonSpec
from storage.stats_types import ContestWinner, MonthReport

SHEETS = ("Tổng hợp", "Theo xóm", "Theo bài học", "Theo tình nguyện viên", "Khen thưởng", "Thi trắc nghiệm")
TITLE = "BÁO CÁO KẾT QUẢ PHONG TRÀO «BÌNH DÂN HỌC VỤ SỐ»"
SUMMARY_HEADER = ("Chỉ tiêu", "Tháng này", "Tháng trước", "Tăng/giảm", "Lũy kế")
SUMMARY_FIRST_ROW = 8  # the first figure row of "Tổng hợp" (the header is row 7)

Kind = Literal["count", "minutes", "rating"]
_FORMATS: dict[Kind, tuple[str, str]] = {  # (value, change)
    "count": ("#,##0", "+#,##0;-#,##0;0"),
    "minutes": ("#,##0.0", "+#,##0.0;-#,##0.0;0"),
    "rating": ("0.00", "+0.00;-0.00;0"),
}
_PERCENT = "0.0%"


@functools.cache
def _styles() -> Any:
    """openpyxl and the cell styles, imported when the first workbook is made (openpyxl takes about 0.1 s to
    import: not at start-up)."""
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

    thin = Side(style="thin", color="999999")
    return SimpleNamespace(Font=Font, bold=Font(bold=True), head_fill=PatternFill("solid", fgColor="DDEBF7"),
                           box=Border(left=thin, right=thin, top=thin, bottom=thin),
                           wrap=Alignment(wrap_text=True, vertical="center"),
                           center=Alignment(horizontal="center", vertical="center", wrap_text=True))


class CatalogInputs(NamedTuple):
    tracks: dict[str, list[str]]  # track id → lesson ids, in order
    lessons: list[LessonSpec]  # (lesson id, title, step ids), in catalog order
    track_titles: dict[str, str]


def catalog_inputs(catalog: Catalog) -> CatalogInputs:
    """What `StatsRepo.overview` and `StatsRepo.month` need to know of the lessons (storage does not read them)."""
    return CatalogInputs(
        tracks={t.id: [lesson.id for lesson in catalog.by_track.get(t.id, [])] for t in catalog.tracks},
        lessons=[(lesson.id, lesson.title, [step.id for step in lesson.steps]) for lesson in catalog.in_order()],
        track_titles={t.id: t.title for t in catalog.tracks})


@dataclass(frozen=True)
class SummaryRow:
    """One line of the "Tổng hợp" table."""

    label: str
    this_month: float | None
    previous: float | None
    to_date: float | None  # None: no meaningful running total ("active this month")
    kind: Kind = "count"

    @property
    def change(self) -> float | None:
        if self.this_month is None or self.previous is None:
            return None
        return self.this_month - self.previous


def summary_rows(report: MonthReport) -> list[SummaryRow]:
    """Every summary figure of the month, the month before and to date, in the order of the report."""
    now, before, total = report.this_month, report.previous, report.to_date

    def row(label: str, pick: Any, kind: Kind = "count", *, running: bool = True) -> SummaryRow:
        return SummaryRow(label, pick(now), pick(before), pick(total) if running else None, kind)

    rows = [
        row("Người dân đăng ký mới (lũy kế: tổng số đã đăng ký)", lambda f: f.new_people),
        row("Người dân có hoạt động học trong tháng", lambda f: f.active_people, running=False),
        row("Lượt hoàn thành bài học", lambda f: f.lessons_completed),
        row("   trong đó: có tình nguyện viên kèm cặp 1-1", lambda f: f.assisted_completions),
    ]
    for track, title in report.track_titles.items():
        rows.append(row(f"Người hoàn thành chủ đề «{title}»",
                        lambda f, track=track: f.track_finishers.get(track, 0)))
    rows += [
        row("Yêu cầu hỗ trợ mới", lambda f: f.escalations_opened),
        row("Yêu cầu hỗ trợ đã giải quyết", lambda f: f.escalations_resolved),
        row("Thời gian chờ được nhận hỗ trợ (trung vị, phút)", lambda f: f.median_claim_minutes, "minutes"),
        row("Thời gian giải quyết hỗ trợ (trung vị, phút)", lambda f: f.median_resolve_minutes, "minutes"),
        row("Mức hài lòng trung bình (1–5 sao)", lambda f: f.mean_rating, "rating"),
    ]
    for milestone, (_, label) in MILESTONES.items():
        rows.append(row(f"Người từ 16 tuổi mới đạt mốc: {label}",
                        lambda f, milestone=milestone: f.milestones.get(milestone, 0)))
    return rows


# ---- the workbook -------------------------------------------------------------------------------------------------

def monthly_workbook(report: MonthReport, *, commune: str) -> bytes:
    """The .xlsx of `report`; `commune` as it is titled ("Xã Bạch Ngọc"), printed upper case in the header."""
    from openpyxl import Workbook

    book = Workbook()
    _summary_sheet(book.active, report, commune)
    _hamlet_sheet(book.create_sheet(SHEETS[1]), report)
    _lesson_sheet(book.create_sheet(SHEETS[2]), report)
    _mentor_sheet(book.create_sheet(SHEETS[3]), report)
    _commendation_sheet(book.create_sheet(SHEETS[4]), report)
    _contest_sheet(book.create_sheet(SHEETS[5]), report)
    book.properties.title = f"{TITLE} – Tháng {report.period}"
    book.properties.creator = "hocvuso – Trợ lý số"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _summary_sheet(sheet: Any, report: MonthReport, commune: str) -> None:
    sheet.title = SHEETS[0]
    _widths(sheet, [52, 14, 14, 14, 14])
    sheet.merge_cells("A1:B1")
    sheet["A1"] = f"ỦY BAN NHÂN DÂN {commune.upper()}"
    sheet.merge_cells("C1:E1")
    sheet["C1"] = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
    sheet.merge_cells("C2:E2")
    sheet["C2"] = "Độc lập – Tự do – Hạnh phúc"
    for cell in ("A1", "C1", "C2"):
        sheet[cell].font = _styles().bold
        sheet[cell].alignment = _styles().center
    sheet.merge_cells("A4:E4")
    sheet["A4"] = TITLE
    sheet["A4"].font = _styles().Font(bold=True, size=14)
    sheet.merge_cells("A5:E5")
    sheet["A5"] = f"Tháng {report.period}"
    sheet["A5"].font = _styles().Font(bold=True, size=12)
    sheet.merge_cells("A6:E6")
    sheet["A6"] = "(Lũy kế: từ khi bắt đầu đến hết tháng báo cáo. Số liệu do Trợ lý số tự tổng hợp.)"
    sheet["A6"].font = _styles().Font(italic=True, size=9)
    for cell in ("A4", "A5", "A6"):
        sheet[cell].alignment = _styles().center
    _header(sheet, 7, SUMMARY_HEADER)
    line = SUMMARY_FIRST_ROW
    for row in summary_rows(report):
        value, change = _FORMATS[row.kind]
        cells = [row.label, row.this_month, row.previous, row.change, row.to_date]
        formats = ["@", value, value, change, value]
        _row(sheet, line, cells, formats)
        line += 1
    line += 1
    _header(sheet, line, ("Mốc kỹ năng số (người từ 16 tuổi trở lên)", "Đã đạt (lũy kế)", "Tỷ lệ", "", ""))
    for milestone, (_, label) in MILESTONES.items():
        line += 1
        _row(sheet, line, [label, report.to_date.milestones.get(milestone, 0), report.milestone_share(milestone)],
             ["@", "#,##0", _PERCENT])
    line += 1
    sheet.cell(line, 1, f"Số người từ 16 tuổi trở lên đã đăng ký: {report.adults_to_date}").font = _styles().Font(
        italic=True, size=9)
    sheet.cell(line + 2, 4, "NGƯỜI LẬP BÁO CÁO").font = _styles().bold
    sheet.cell(line + 3, 4, "(Ký, ghi rõ họ tên)").font = _styles().Font(italic=True, size=9)
    sheet.freeze_panes = f"A{SUMMARY_FIRST_ROW}"
    sheet.page_setup.orientation = "portrait"
    sheet.page_setup.fitToWidth = 1


def _hamlet_sheet(sheet: Any, report: MonthReport) -> None:
    columns = ("Xóm", "Đã đăng ký (đến hết tháng)", "Đăng ký mới", "Có hoạt động học", "Học xong ≥1 bài trong tháng",
               "Lượt hoàn thành bài", "trong đó có kèm cặp", "Đã học xong ≥1 bài (lũy kế)", "Tỷ lệ (lũy kế)")
    _table_start(sheet, f"Kết quả theo xóm – tháng {report.period}", columns, [22, 14, 12, 14, 16, 14, 14, 16, 12])
    rows = report.by_hamlet
    formats = ["@", *["#,##0"] * 7, _PERCENT]
    for line, r in enumerate(rows, start=3):
        _row(sheet, line, [r.name, r.registered, r.new_people, r.active_people, r.finishers, r.lessons_completed,
                           r.assisted_completions, r.finished_to_date, r.completion_rate], formats)
    registered, finished = sum(r.registered for r in rows), sum(r.finished_to_date for r in rows)
    total = [sum(getattr(r, name) for r in rows) for name in ("new_people", "active_people", "finishers",
                                                               "lessons_completed", "assisted_completions")]
    _row(sheet, 3 + len(rows), ["Tổng cộng", registered, *total, finished, finished / registered if registered else 0],
         formats, bold=True)


def _lesson_sheet(sheet: Any, report: MonthReport) -> None:
    columns = ("Bài học", "Mã bài", "Bắt đầu học trong tháng", "Học xong trong tháng", "Người dừng nhiều nhất ở",
               "Số người dừng ở đó")
    _table_start(sheet, f"Kết quả theo bài học – tháng {report.period}", columns, [40, 22, 14, 14, 18, 14])
    for line, r in enumerate(report.by_lesson, start=3):
        _row(sheet, line, [r.title, r.lesson_id, r.started, r.finished, r.dropoff_label or "–", r.dropoff_people],
             ["@", "@", "#,##0", "#,##0", "@", "#,##0"])


def _mentor_sheet(sheet: Any, report: MonthReport) -> None:
    columns = ("Tình nguyện viên, cán bộ", "Nhận hỗ trợ", "Đã giải quyết", "Đánh giá trung bình (sao)",
               "Số bước đã kèm cặp 1-1")
    _table_start(sheet, f"Hoạt động của tình nguyện viên – tháng {report.period}", columns, [32, 12, 14, 16, 16])
    for line, r in enumerate(report.by_mentor, start=3):
        _row(sheet, line, [r.name, r.claimed, r.resolved, r.mean_rating, r.assisted_steps],
             ["@", "#,##0", "#,##0", "0.00", "#,##0"])


def _commendation_sheet(sheet: Any, report: MonthReport) -> None:
    praise = report.commendations
    _table_start(sheet, f"Đề xuất khen thưởng – tháng {report.period}",
                 ("STT", "Người cao tuổi (60+) hoàn thành chủ đề", "Xóm", "Chủ đề", "Ngày hoàn thành"),
                 [8, 34, 20, 30, 16])
    line = 3
    for n, elder in enumerate(praise.elders, start=1):
        day = elder.finished_at.astimezone(VN_ZONE).strftime("%d/%m/%Y")
        _row(sheet, line, [n, elder.name, elder.hamlet, report.track_titles.get(elder.track_id, elder.track_id), day],
             ["0", "@", "@", "@", "@"])
        line += 1
    line = _none_yet(sheet, line, not praise.elders) + 1
    _header(sheet, line, ("STT", "Tình nguyện viên tích cực", "Yêu cầu đã giải quyết", "Đánh giá trung bình (sao)"))
    line += 1
    for n, mentor in enumerate(praise.mentors, start=1):
        _row(sheet, line, [n, mentor.name, mentor.resolved, mentor.mean_rating], ["0", "@", "#,##0", "0.00"])
        line += 1
    line = _none_yet(sheet, line, not praise.mentors) + 1
    _header(sheet, line, ("STT", "Xóm dẫn đầu (tỷ lệ người dân đã học xong ≥1 bài)", "Đã đăng ký",
                          "Đã học xong ≥1 bài", "Tỷ lệ"))
    line += 1
    for n, hamlet in enumerate(praise.hamlets, start=1):
        _row(sheet, line, [n, hamlet.name, hamlet.registered, hamlet.finished, hamlet.rate],
             ["0", "@", "#,##0", "#,##0", _PERCENT])
        line += 1
    _none_yet(sheet, line, not praise.hamlets)


def _contest_sheet(sheet: Any, report: MonthReport) -> None:
    columns = ("Cuộc thi", "Thời gian", "Số người dự thi", "Hạng", "Người đạt giải", "Điểm", "Thời gian làm bài (giây)")
    _table_start(sheet, f"Thi trắc nghiệm kết thúc trong tháng {report.period}", columns,
                 [34, 26, 14, 8, 32, 8, 16])
    line = 3
    for contest in report.contests:
        when = (f"{contest.starts_at.astimezone(VN_ZONE):%d/%m/%Y} – "
                f"{contest.ends_at.astimezone(VN_ZONE):%d/%m/%Y}")
        winners: list[ContestWinner | None] = [*contest.top] or [None]
        for winner in winners:
            cells = [contest.title, when, contest.entries]
            if winner is not None:
                cells += [winner.rank, winner.name, winner.score, winner.seconds]
            _row(sheet, line, cells, ["@", "@", "#,##0", "0", "@", "0", "#,##0"])
            line += 1
    _none_yet(sheet, line, not report.contests)


# ---- cells --------------------------------------------------------------------------------------------------------

def _widths(sheet: Any, widths: Sequence[int]) -> None:
    from openpyxl.utils import get_column_letter

    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width


def _header(sheet: Any, line: int, titles: Sequence[str]) -> None:
    for i, title in enumerate(titles, start=1):
        if not title:
            continue
        cell = sheet.cell(line, i, title)
        style = _styles()
        cell.font, cell.fill, cell.border, cell.alignment = style.bold, style.head_fill, style.box, style.center


def _table_start(sheet: Any, title: str, columns: Sequence[str], widths: Sequence[int]) -> None:
    """Row 1 the sheet's title, row 2 the column headers, both frozen."""
    sheet.cell(1, 1, title).font = _styles().Font(bold=True, size=12)
    _header(sheet, 2, columns)
    sheet.row_dimensions[2].height = 32
    _widths(sheet, widths)
    sheet.freeze_panes = "A3"


def _row(sheet: Any, line: int, values: Sequence[Any], formats: Sequence[str], *, bold: bool = False) -> None:
    for i, (value, number_format) in enumerate(zip(values, formats, strict=False), start=1):
        cell = sheet.cell(line, i, value)
        cell.style = _table_style(sheet.parent, number_format, wrap=i == 1 and isinstance(value, str), bold=bold)


def _table_style(book: Any, number_format: str, *, wrap: bool, bold: bool) -> str:
    """A table cell's look as a named style of the workbook, made the first time it is needed. Setting a cell's
    border, format, alignment and font one by one makes openpyxl hash each of them into its style lists (more than
    a millisecond per cell: a thousand mentors took over a second); a named style is copied as it is."""
    name = f"Bảng {number_format}{' xuống dòng' if wrap else ''}{' đậm' if bold else ''}"
    if name not in book.named_styles:
        from openpyxl.styles import NamedStyle

        style = _styles()
        look = NamedStyle(name=name, border=style.box, number_format=number_format)  # the book's default font
        if wrap:
            look.alignment = style.wrap
        if bold:
            look.font = style.bold
        book.add_named_style(look)
    return name


def _none_yet(sheet: Any, line: int, empty: bool) -> int:
    """Write "(chưa có)" under an empty table; the next free line."""
    if not empty:
        return line
    sheet.cell(line, 2, "(chưa có)").font = _styles().Font(italic=True)
    return line + 1


# ---- the chat summary ---------------------------------------------------------------------------------------------

def summary_text(report: MonthReport) -> str:
    """The month in at most 12 short lines of Vietnamese, for a chat message."""
    now, before = report.this_month, report.previous
    place = f", {report.commune_name}" if report.commune_name else ""
    lines = [
        f"📊 Bình dân học vụ số – tháng {report.period}{place}",
        f"👥 Đăng ký mới: {_n(now.new_people)} người (tháng trước {_n(before.new_people)}); "
        f"tổng cộng {_n(report.to_date.new_people)} người.",
        f"🙋 Có học trong tháng: {_n(now.active_people or 0)} người (tháng trước {_n(before.active_people or 0)}).",
        f"📚 Hoàn thành bài học: {_n(now.lessons_completed)} lượt, {_n(now.assisted_completions)} lượt có kèm cặp "
        f"(tháng trước {_n(before.lessons_completed)}).",
    ]
    tracks = [f"«{report.track_titles.get(t, t)}» {_n(n)} người" for t, n in now.track_finishers.items() if n]
    if tracks:
        lines.append(f"🎓 Hoàn thành chủ đề: {', '.join(tracks)}.")
    helped = f"🆘 Hỗ trợ: {_n(now.escalations_opened)} yêu cầu mới, {_n(now.escalations_resolved)} đã giải quyết"
    if now.median_claim_minutes is not None:
        helped += f"; chờ nhận {_minutes(now.median_claim_minutes)}"
    if now.median_resolve_minutes is not None:
        helped += f", xong sau {_minutes(now.median_resolve_minutes)} (trung vị)"
    if now.mean_rating is not None:
        helped += f"; hài lòng {_decimal(now.mean_rating, 1)}/5 sao"
    lines.append(helped + ".")
    reached = [f"{label}: {_n(now.milestones[m])}" for m, (_, label) in MILESTONES.items() if now.milestones.get(m)]
    if reached:
        lines.append(f"🎯 Mốc mới: {'; '.join(reached)}.")
    praise = report.commendations
    if praise.hamlets:
        lines.append("🏘 Xóm dẫn đầu: " + ", ".join(f"{h.name} {h.rate:.0%}" for h in praise.hamlets) + ".")
    if praise.elders:
        lines.append(f"👏 {_n(len(praise.elders))} lượt người cao tuổi hoàn thành chủ đề: "
                     + ", ".join(e.name for e in praise.elders[:3]) + ("…" if len(praise.elders) > 3 else "."))
    if praise.mentors:
        lines.append("🤝 Tình nguyện viên tích cực: "
                     + ", ".join(f"{m.name} ({_n(m.resolved)} ca)" for m in praise.mentors[:3]) + ".")
    for contest in report.contests[:1]:
        first = f"; nhất: {contest.top[0].name}" if contest.top else ""
        lines.append(f"🏆 {contest.title}: {_n(contest.entries)} người dự thi{first}.")
    return "\n".join(lines[:12])


def _n(value: int) -> str:
    """12345 → "12.345"."""
    return f"{value:,}".replace(",", ".")


def _decimal(value: float, places: int) -> str:
    """3.75 → "3,8" (one place): the Vietnamese decimal comma."""
    return f"{value:.{places}f}".replace(".", ",")


def _minutes(minutes: float) -> str:
    if minutes < 90:
        return f"{round(minutes)} phút"
    if minutes < 48 * 60:
        return f"{_decimal(minutes / 60, 1).removesuffix(',0')} giờ"
    return f"{_decimal(minutes / 1440, 1).removesuffix(',0')} ngày"
