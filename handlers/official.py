"""Commune officials (Phòng Văn hóa – Xã hội). This holds their minimum: inviting mentors."""

from __future__ import annotations

from bot.context import Context
from bot.messages import Inbound
from bot.roles import Role
from bot.routing import Router
from handlers.voice import menu_button

router = Router()


@router.command("moitnv", requires=Role.OFFICIAL, describe="Tạo mã mời tình nguyện viên")
async def invite_mentor(inbound: Inbound, ctx: Context) -> None:
    code = await ctx.repos.invites.create("mentor", ctx.community.commune_id, ctx.community.invite_ttl)
    days = ctx.community.invite_ttl.days
    ctx.reply(f"Mã mời tình nguyện viên: **{code}**\nDùng một lần, hết hạn sau {days} ngày.\n"
              f"Gửi cho người được mời: họ nhắn «/tnv {code}» cho Trợ lý số.", [[menu_button()]])
