"""Posters ("áp phích") for a hamlet's notice board: officials get the PDF with /apphich <xóm>."""

from __future__ import annotations

from bot.context import Context
from bot.media.poster import make_poster_pdf
from bot.messages import Inbound
from bot.roles import Role
from bot.routing import Router
from handlers.voice import menu_button
from lessons.textmatch import matches
from storage.places import hamlet_code

router = Router()


def telegram_link(username: str, hamlet: str) -> str | None:
    return f"https://t.me/{username}?start={hamlet_code(hamlet)}" if username else None


@router.command("apphich", requires=Role.OFFICIAL, describe="Áp phích có mã QR cho một xóm")
async def poster(inbound: Inbound, ctx: Context) -> None:
    hamlets = await ctx.repos.places.hamlets(ctx.community.commune_id)
    wanted = inbound.args.strip()
    hamlet = next((h for h in hamlets if matches(wanted, h.name) or hamlet_code(h.name) == wanted.lower()), None)
    if hamlet is None:
        names = ", ".join(h.name for h in hamlets)
        ctx.reply(f"Anh/chị gõ /apphich kèm tên xóm, ví dụ: /apphich {hamlets[0].name if hamlets else 'Xóm 1'}\n"
                  f"Các xóm: {names}")
        return
    link = telegram_link(ctx.community.telegram_username, hamlet.name)
    zalo = ctx.community.zalo_link or None
    if link is None and zalo is None:
        ctx.reply("Chưa có đường link của bot để in mã QR. Nhờ người quản trị đặt HOCVUSO_TELEGRAM_BOT_USERNAME "
                  "hoặc HOCVUSO_ZALO_LINK.")
        return
    commune = ctx.community.commune_name
    pdf = make_poster_pdf(commune=commune[:1].upper() + commune[1:], hamlet=hamlet.name, telegram_link=link,
                          zalo_link=zalo)
    ctx.reply(f"📄 Áp phích cho {hamlet.name}: in khổ A4, dán ở nhà văn hóa xóm.", [[menu_button()]],
              document=pdf, document_name=f"ap-phich-{hamlet_code(hamlet.name)}.pdf")
