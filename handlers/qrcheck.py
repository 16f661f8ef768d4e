""""Kiểm tra mã QR": the person sends a photo of any QR code; the bot says what it is and what to check."""

from __future__ import annotations

from bot.context import Context
from bot.media import qr, qrcheck
from bot.messages import Choice, Inbound, InboundKind
from bot.roles import Role
from bot.routing import Router
from handlers.onboarding import continue_onboarding
from handlers.voice import CHECK_QR, address, menu_button

router = Router()

TIPS = ("Mẹo chụp: đủ sáng, giữ máy thẳng, cách mã 15–20 cm, chụp rõ cả mã.")


@router.choice("qrcheck", requires=Role.VILLAGER)
@router.command("kiemtraqr", requires=Role.VILLAGER, describe="Kiểm tra một mã QR có an toàn không")
async def ask_for_photo(inbound: Inbound, ctx: Context) -> None:
    if await continue_onboarding(ctx):  # age first, and for a child a parent's "yes"
        return
    you = address(ctx)
    ctx.state["flow"] = "qrcheck"
    ctx.reply(f"🔍 {you.You} chụp ảnh mã QR rồi gửi vào đây. {you.Me} đọc mã và nói {you.you} nghe "
              f"mã đó là gì, cần kiểm tra gì.\n{TIPS}", [[menu_button()]], numbered=False)


@router.flow("qrcheck", requires=Role.VILLAGER)
async def photo_sent(inbound: Inbound, ctx: Context) -> None:
    if await continue_onboarding(ctx):
        return
    you = address(ctx)
    again = [[Choice(label=CHECK_QR, payload="qrcheck")], [menu_button()]]
    if inbound.kind is not InboundKind.PHOTO or inbound.photo is None:
        if inbound.problem == "photo_too_large":
            ctx.reply(f"Ảnh lớn quá ạ. {you.You} chụp lại gần mã hơn, hoặc gửi ảnh nhỏ hơn nhé.", again)
        else:
            ctx.reply(f"{you.Me} cần một **ảnh** chụp mã QR ạ. {you.You} bấm biểu tượng ảnh để gửi nhé.", again)
        return
    try:
        payloads = await qr.decode_qr_async(inbound.photo)
    except qr.QRDecodeError as exc:
        problem = {"too_large": "Ảnh lớn quá", "timeout": "Ảnh khó đọc quá"}.get(exc.reason, "Đây không phải ảnh")
        ctx.reply(f"{problem} ạ. {TIPS}", again)
        return
    verdict = qrcheck.explain(payloads)
    ctx.state["flow"] = None
    ctx.reply(you.adapt(verdict.text), again)
