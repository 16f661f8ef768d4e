"""Milestones communes report ("Bác đã kích hoạt VNeID mức 2 chưa?"), asked at the end of a lesson:
Rồi / Chưa / Cần giúp (which opens a help request)."""

from __future__ import annotations

from bot.context import Context
from bot.messages import Choice, Inbound
from bot.roles import Role
from bot.routing import Router
from handlers import certificate, help
from handlers.menu import show_menu
from handlers.voice import address
from lessons.framework import MILESTONES
from lessons.schema import Lesson

router = Router()


def ask(ctx: Context, lesson: Lesson) -> None:
    assert lesson.milestone is not None
    question, _ = MILESTONES[lesson.milestone]
    ctx.reply(address(ctx).adapt(question), [[Choice(label="✅ Rồi", payload=f"ms:{lesson.id}:yes")],
                                             [Choice(label="Chưa", payload=f"ms:{lesson.id}:no")],
                                             [Choice(label="🙋 Cần giúp", payload=f"ms:{lesson.id}:help")]])


@router.choice("ms", requires=Role.VILLAGER)
async def answer(inbound: Inbound, ctx: Context) -> None:
    _, lesson_id, said = [*inbound.payload.split(":"), "", ""][:3]
    lesson = ctx.catalog.lesson(lesson_id)
    if lesson is None or lesson.milestone is None or said not in ("yes", "no", "help"):
        show_menu(ctx, "Nút đó thuộc tin nhắn cũ rồi ạ.")
        return
    assert ctx.person is not None
    await ctx.repos.progress.event(ctx.person.id, "milestone", lesson_id=lesson.id, step_id=lesson.milestone,
                                   value=1 if said == "yes" else 0)
    you = address(ctx)
    if said == "help":
        await help.start_help(ctx, lesson.id, None)
        return
    ctx.reply(f"🎉 Tuyệt vời, {you.you} giỏi quá!" if said == "yes"
              else f"Không sao ạ. Khi {you.you} làm, tình nguyện viên của xóm sẵn sàng giúp.")
    if not await certificate.offer_if_track_done(ctx, lesson):
        show_menu(ctx)
