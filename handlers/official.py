"""Commune officials (Phòng Văn hóa – Xã hội). This holds their minimum: inviting mentors."""

from __future__ import annotations

from bot.context import Context
from bot.messages import Inbound
from bot.roles import Role
from bot.routing import Router
from handlers import invite_guard
from handlers.voice import menu_button

router = Router()


@router.command("moitnv", requires=Role.OFFICIAL, describe="Tạo mã mời tình nguyện viên")
async def invite_mentor(inbound: Inbound, ctx: Context) -> None:
    code = await ctx.repos.invites.create("mentor", ctx.community.commune_id, ctx.community.invite_ttl)
    days = ctx.community.invite_ttl.days
    ctx.reply(f"Mã mời tình nguyện viên: **{code}**\nDùng một lần, hết hạn sau {days} ngày.\n"
              f"Gửi cho người được mời: họ nhắn «/tnv {code}» cho Trợ lý số.", [[menu_button()]])


@router.command("moicb", requires=Role.OFFICIAL, describe="Tạo mã mời cán bộ xã")
async def invite_official(inbound: Inbound, ctx: Context) -> None:
    code = await ctx.repos.invites.create("official", ctx.community.commune_id, ctx.community.invite_ttl)
    ctx.reply(f"Mã mời cán bộ: **{code}**\nDùng một lần, hết hạn sau {ctx.community.invite_ttl.days} ngày.\n"
              f"Người được mời nhắn «/canbo {code}» cho Trợ lý số.", [[menu_button()]])


@router.command("canbo", requires=Role.VILLAGER)
async def become_official(inbound: Inbound, ctx: Context) -> None:
    person = ctx.person
    assert person is not None
    if person.is_official:
        ctx.reply("Anh/chị đã là cán bộ quản lý rồi ạ.", [[menu_button()]])
        return
    code = inbound.args.strip()
    if invite_guard.locked_out(ctx):
        invite_guard.refuse(ctx)
        return
    if not code or await ctx.repos.invites.redeem(code, "official", person.id, ctx.now) is None:
        invite_guard.record_wrong(ctx)
        ctx.reply("Mã mời không dùng được (sai, đã dùng hoặc hết hạn) ạ.")
        return
    person.is_official = True
    ctx.refresh_commands()
    ctx.reply("✅ Chào anh/chị! Anh/chị đã là cán bộ quản lý của Trợ lý số.\n"
              "Lệnh: /thongke, /baocao, /thongbao, /taolich, /khenthuong, /thitracnghiem, /moitnv, /apphich.",
              [[menu_button()]])
