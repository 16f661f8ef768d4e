"""«Tiến độ của tôi»: per track, a bar like ▓▓▓░░ 3/5 and the next lesson to take."""

from __future__ import annotations

from bot.context import Context
from bot.messages import Choice, Inbound
from bot.roles import Role
from bot.routing import Router
from handlers.menu import in_progress
from handlers.voice import LEARN, RESUME, address, menu_button

router = Router()


def bar(done: int, total: int, width: int = 10) -> str:
    cells = min(total, width) or 1
    filled = round(cells * done / total) if total else 0
    return "▓" * filled + "░" * (cells - filled)


@router.choice("progress", requires=Role.VILLAGER)
@router.command("tiendo", requires=Role.VILLAGER, describe="Xem tiến độ học")
async def progress(inbound: Inbound, ctx: Context) -> None:
    assert ctx.person is not None
    done = await ctx.repos.progress.completed_lessons(ctx.person.id)
    you = address(ctx)
    lines = []
    for track in ctx.catalog.tracks:
        lessons = ctx.catalog.by_track.get(track.id, [])
        finished = sum(1 for lesson in lessons if lesson.id in done)
        following = next((lesson for lesson in lessons if lesson.id not in done), None)
        after = f"\n   Bài tiếp: {following.title}" if following else "\n   ✅ Đã học hết chủ đề này"
        lines.append(f"**{track.title}**: {bar(finished, len(lessons))} {finished}/{len(lessons)}{after}")
    total = len(ctx.catalog.lessons)
    head = f"📊 Tiến độ của {you.you}: {len(done & set(ctx.catalog.lessons))}/{total} bài."
    rows = [[Choice(label=RESUME, payload="resume")]] if in_progress(ctx) else []
    rows += [[Choice(label=LEARN, payload="learn")], [menu_button()]]
    ctx.state["flow"] = None
    ctx.reply(head + "\n\n" + "\n".join(lines), rows)
