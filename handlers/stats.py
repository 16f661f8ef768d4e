"""Officials' numbers: /thongke (summary and chart), /baocao (the monthly .xlsx), /khenthuong (who to commend),
and the report sent to every official at 07:00 on the 10th of each month."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

from bot.context import Context
from bot.media.chart import overview_chart
from bot.media.report import catalog_inputs, monthly_workbook, summary_text
from bot.messages import Inbound, Reply
from bot.roles import Role
from bot.routing import Router
from handlers.voice import AGE_GROUPS, menu_button
from lessons.framework import MILESTONES
from lessons.textmatch import matches
from storage.stats_types import MonthReport

router = Router()

REPORT_DAY, REPORT_HOUR = 10, 7
OVERVIEW_MAX_AGE = 60.0  # s: /thongke may show figures computed this long ago (the chart says when)
_MONTH = re.compile(r"^\s*(\d{1,2})\s*[/-]\s*(\d{4})\s*$")


def pct(share: float) -> str:
    return f"{share * 100:.0f}%".replace(".", ",")


@router.command("thongke", requires=Role.OFFICIAL, describe="Thống kê nhanh (thêm tên xóm để xem một xóm)")
async def stats(inbound: Inbound, ctx: Context) -> None:
    hamlet_id, where = None, ctx.community.commune_name
    if inbound.args.strip():
        hamlets = await ctx.repos.places.hamlets(ctx.community.commune_id)
        hamlet = next((h for h in hamlets if matches(inbound.args, h.name)), None)
        if hamlet is None:
            ctx.reply("Không có xóm đó. Các xóm: " + ", ".join(h.name for h in hamlets))
            return
        hamlet_id, where = hamlet.id, hamlet.name
    tracks, _, titles = catalog_inputs(ctx.catalog)
    o = await ctx.repos.stats.overview(ctx.community.commune_id, tracks, hamlet_id=hamlet_id, now=ctx.now,
                                       zone=ctx.community.timezone, max_age=OVERVIEW_MAX_AGE)
    e = o.escalations
    lines = [f"📊 Thống kê {where}, {ctx.local():%d/%m/%Y}:",
             f"• Đăng ký: {o.registered} người ({o.elders} người từ 60 tuổi); hoạt động 7 ngày: {o.active_7d}, "
             f"30 ngày: {o.active_30d}",
             f"• Bài đã học xong: {o.lessons_completed} (có hỗ trợ: {o.assisted_completions})",
             "• Học xong chủ đề: " + ", ".join(f"{titles.get(t, t)} {n}" for t, n in o.track_finishers.items()),
             "• Theo tuổi: " + ", ".join(f"{AGE_GROUPS.get(g, g)}: {n}" for g, n in o.by_age.items()),
             f"• Hỗ trợ: {e.open} chờ, {e.claimed} đang giúp, {e.resolved} xong; nhận sau "
             f"{_minutes(e.median_claim_minutes)}, xong sau {_minutes(e.median_resolve_minutes)}; "
             f"điểm {e.mean_rating:.1f}⭐" if e.mean_rating is not None else
             f"• Hỗ trợ: {e.open} chờ, {e.claimed} đang giúp, {e.resolved} xong",
             f"• Tình nguyện viên sẵn sàng: {o.mentors_active}"]
    for key, share in o.milestones.items():
        lines.append(f"• {MILESTONES[key][1]}: {share.people} người ({pct(share.share)} người lớn)")
    chart = await asyncio.to_thread(overview_chart, o, title=where)  # the chart adds "Bình dân học vụ số – "
    ctx.reply("\n".join(lines), [[menu_button()]], image=chart)


def _minutes(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f} phút" if value < 120 else f"{value / 60:.1f} giờ".replace(".", ",")


def previous_month(local: dt.datetime) -> tuple[int, int]:
    return (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)


async def build_report(ctx: Context, year: int, month: int) -> MonthReport:
    tracks, lessons, titles = catalog_inputs(ctx.catalog)
    return await ctx.repos.stats.month(ctx.community.commune_id, year, month, tracks, lessons,
                                       zone=ctx.community.timezone, track_titles=titles)


def report_reply(report: MonthReport, commune: str) -> Reply:
    workbook = monthly_workbook(report, commune=commune)
    name = f"bao-cao-{report.period.replace('/', '-')}.xlsx"
    return Reply(text=summary_text(report), document=workbook, document_name=name)


@router.command("baocao", requires=Role.OFFICIAL, describe="Báo cáo tháng (.xlsx), ví dụ /baocao 11/2026")
async def report(inbound: Inbound, ctx: Context) -> None:
    match = _MONTH.match(inbound.args) if inbound.args.strip() else None
    if inbound.args.strip() and (match is None or not 1 <= int(match.group(1)) <= 12):
        ctx.reply("Gõ tháng theo dạng MM/YYYY, ví dụ: /baocao 11/2026")
        return
    year, month = (int(match.group(2)), int(match.group(1))) if match else previous_month(ctx.local())
    ctx.reply(f"⏳ Đang lập báo cáo tháng {month:02d}/{year}, xin chờ một chút. Nếu sau một phút chưa thấy báo cáo, "
              "gõ lại /baocao.")

    async def send(later: Context) -> None:  # a large commune's month takes about a second to read
        built = await build_report(later, year, month)
        reply = await asyncio.to_thread(report_reply, built, later.community.commune_name)  # the workbook: CPU
        later.reply(reply.text, [[menu_button()]], document=reply.document, document_name=reply.document_name)

    ctx.after_commit(send)


@router.command("khenthuong", requires=Role.OFFICIAL, describe="Danh sách đề nghị khen thưởng tháng trước")
async def commend(inbound: Inbound, ctx: Context) -> None:
    ctx.after_commit(_commendations)  # a walk over every completed lesson: read outside the write transaction


async def _commendations(ctx: Context) -> None:
    year, month = previous_month(ctx.local())
    tracks, _, titles = catalog_inputs(ctx.catalog)
    found = await ctx.repos.stats.commendations(ctx.community.commune_id, year, month, tracks,
                                                zone=ctx.community.timezone)
    lines = [f"🏅 Đề nghị khen thưởng tháng {month:02d}/{year}:"]
    lines += ["Người cao tuổi học xong chủ đề:"] + [f"• {e.name}, {e.hamlet}: {titles.get(e.track_id, e.track_id)}"
                                                   for e in found.elders] or ["• (chưa có)"]
    lines += ["Tình nguyện viên tích cực:"] + [
        f"• {m.name}: {m.resolved} yêu cầu" + (f", {m.mean_rating:.1f}⭐" if m.mean_rating else "")
        for m in found.mentors]
    lines += ["Xóm có tỉ lệ học cao nhất:"] + [f"• {h.name}: {h.finished}/{h.registered} ({pct(h.rate)})"
                                               for h in found.hamlets]
    ctx.reply("\n".join(lines), [[menu_button()]])


def next_report_time(now: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """07:00 local on the next 10th (this month's, if still ahead)."""
    local = now.astimezone(zone)
    candidate = local.replace(day=REPORT_DAY, hour=REPORT_HOUR, minute=0, second=0, microsecond=0)
    if candidate <= local:
        year, month = (local.year, local.month + 1) if local.month < 12 else (local.year + 1, 1)
        candidate = candidate.replace(year=year, month=month)
    return candidate.astimezone(dt.UTC)


@router.job("monthly_report")
async def monthly(inbound: Inbound, ctx: Context) -> None:
    """On the 10th: last month's report to every official, then the next one is scheduled (once each)."""
    year, month = previous_month(ctx.local())
    built = await build_report(ctx, year, month)
    reply = await asyncio.to_thread(report_reply, built, ctx.community.commune_name)  # the workbook: CPU, ~0.3 s
    for official in await ctx.repos.mentors.officials(ctx.community.commune_id):
        ctx.notify(official.ref, reply.model_copy(update={"text": f"📑 Báo cáo tháng {built.period}\n{reply.text}"}))
    due = dt.datetime.fromisoformat(str(inbound.data.get("run_at") or ctx.now.isoformat()))
    after = max(ctx.now, due) + dt.timedelta(minutes=1)  # a late run (after downtime) still moves on a month
    ctx.schedule("monthly_report", next_report_time(after, ctx.community.timezone))
