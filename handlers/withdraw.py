"""Withdrawing a consent ("rút lại đồng ý", Law 91/2025 Art 4, 10): per purpose; what was done before stays done."""

from __future__ import annotations

from bot.context import Context
from bot.messages import Choice, Inbound
from bot.roles import Role
from bot.routing import Router
from handlers import certificate, help, mentor, onboarding
from handlers.menu import show_menu
from handlers.voice import address, menu_button

router = Router()

PURPOSES = {
    onboarding.PURPOSE: "Học bài (xóa toàn bộ dữ liệu)",
    help.HELP_PURPOSE: "Hỏi tình nguyện viên",
    mentor.MENTOR_PURPOSE: "Làm tình nguyện viên",
    certificate.PURPOSE: "Giấy chứng nhận",
}
BUTTONS = {onboarding.PURPOSE: "Rút: học bài", help.HELP_PURPOSE: "Rút: hỏi giúp",
           mentor.MENTOR_PURPOSE: "Rút: tình nguyện", certificate.PURPOSE: "Rút: chứng nhận"}


@router.command("rutdongy", requires=Role.VILLAGER, describe="Rút lại một sự đồng ý đã cho")
async def choose(inbound: Inbound, ctx: Context) -> None:
    you = address(ctx)
    granted = []
    for purpose in PURPOSES:
        latest = await ctx.repos.consent.latest(ctx.ref, purpose)
        if latest is not None and latest.granted:
            granted.append(purpose)
    lines = "\n".join(f"• {PURPOSES[p]}" for p in granted)
    ctx.reply(f"{you.You} đang đồng ý cho:\n{lines}\n\nRút lại việc nào ạ? Những gì đã làm trước đó vẫn giữ nguyên.",
              [[Choice(label=BUTTONS[p], payload=f"withdraw:{p}")] for p in granted] + [[menu_button()]])


@router.choice("withdraw", requires=Role.VILLAGER)
async def withdraw(inbound: Inbound, ctx: Context) -> None:
    person = ctx.person
    assert person is not None
    purpose = inbound.payload.partition(":")[2]
    you = address(ctx)
    if purpose == onboarding.PURPOSE:  # learning is why anything is kept: withdrawing it deletes everything
        ctx.state["flow"] = "confirm_delete"
        ctx.reply(f"Rút lại đồng ý học bài nghĩa là xóa toàn bộ dữ liệu của {you.you}. Xóa nhé?",
                  [[Choice(label="🗑 Xóa hết dữ liệu", payload="erase:yes")],
                   [Choice(label="Không xóa", payload="erase:no")]])
        return
    if purpose not in PURPOSES:
        show_menu(ctx, "Nút đó thuộc tin nhắn cũ rồi ạ.")
        return
    if purpose == mentor.MENTOR_PURPOSE:
        person.is_mentor, person.display_name = False, None
        await ctx.repos.mentors.set_hamlets(person.id, [])
        ctx.refresh_commands()
    if purpose == certificate.PURPOSE:
        await ctx.repos.certificates.revoke_all(person.id)
    await ctx.repos.consent.record(ref=ctx.ref, channel=ctx.channel, purpose=purpose, text_version="withdrawn",
                                   text=f"withdrawn:{purpose}", granted=False)
    await ctx.repos.data_requests.log(ctx.ref_key, "withdraw", done=True, now=ctx.now)
    show_menu(ctx, f"✅ Đã rút lại: {PURPOSES[purpose]}.")
