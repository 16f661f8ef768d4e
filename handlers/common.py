"""For everyone: /start, the menu, help, deleting one's data, and a kind answer to anything unexpected."""

from __future__ import annotations

from bot.context import Context
from bot.messages import Choice, Inbound, InboundKind
from bot.roles import Role
from bot.routing import Router
from handlers import (
    broadcast,
    certificate,
    contest,
    help,
    learner,
    meeting,
    mentor,
    milestone,
    mydata,
    official,
    onboarding,
    poster,
    progress,
    qrcheck,
    stats,
    training,
    withdraw,
)
from handlers.menu import in_progress, menu_choices, show_menu
from handlers.voice import address, menu_button
from lessons.textmatch import fold

router = Router()

MENU_WORDS = {"menu", "vemenu", "menuchinh", "trangchu"}


@router.command("start", requires=Role.ANYONE, describe="Bắt đầu, hoặc học tiếp chỗ đang dừng")
async def start(inbound: Inbound, ctx: Context) -> None:
    linked = await onboarding.hamlet_from_link(ctx, inbound.args)
    if ctx.person is None:
        ctx.reply(f"Cháu chào bác ạ! Cháu là Trợ lý số của {ctx.community.commune_name}. "
                  "Cháu hướng dẫn từng bước: dùng Zalo, quét mã QR, chuyển khoản an toàn, làm thủ tục trên mạng.")
        onboarding.ask_consent(ctx, hamlet_id=linked)
        return
    if linked is not None and ctx.person.hamlet_id is None:
        onboarding.place(ctx, linked)
    if await onboarding.continue_onboarding(ctx):
        return
    you = address(ctx)
    lesson_id = in_progress(ctx)
    if lesson_id is not None:
        ctx.reply(f"{you.Me} chào {you.you} ạ! Mình học tiếp đúng chỗ {you.you} đang dừng nhé.")
        learner.show_current(ctx, lesson_id)
        return
    show_menu(ctx, f"{you.Me} chào {you.you} ạ!")


@router.choice("menu", requires=Role.ANYONE)
@router.command("menu", requires=Role.ANYONE, describe="Về menu chính")
async def menu(inbound: Inbound, ctx: Context) -> None:
    if ctx.person is None:
        onboarding.ask_consent(ctx, "Trước khi học, cháu cần bác đồng ý một điều ạ.")
        return
    if await onboarding.continue_onboarding(ctx):
        return
    show_menu(ctx)


@router.command("trogiup", "help", requires=Role.ANYONE, describe="Cách dùng Trợ lý số")
async def help_(inbound: Inbound, ctx: Context) -> None:
    you = address(ctx)
    ctx.reply(f"❓ {you.Me} hướng dẫn {you.you} dùng điện thoại từng bước một.\n"
              f"• Bấm nút để trả lời, hoặc gõ số thứ tự của nút.\n"
              f"• /start: bắt đầu hoặc học tiếp · /menu: menu chính\n"
              f"• /tiendo: xem tiến độ · /dulieucuatoi: xem dữ liệu đã lưu · /xoadulieu: xóa dữ liệu",
              [[menu_button()]])


@router.command("toi", requires=Role.ANYONE)
async def whoami(inbound: Inbound, ctx: Context) -> None:
    """The person's own account reference, for a commune official who is adding them as an official."""
    ctx.reply(f"Mã tài khoản của bạn: {ctx.ref}\nChỉ đưa mã này cho cán bộ xã khi được yêu cầu.")


# ---- deleting one's data (Law 91/2025 Art 14; Decree 356/2025 Art 5) -----------------------------

@router.command("xoadulieu", requires=Role.ANYONE, describe="Xóa toàn bộ dữ liệu của tôi")
async def delete_request(inbound: Inbound, ctx: Context) -> None:
    you = address(ctx)
    if ctx.person is None:
        await ctx.erase_person()  # a recorded "không đồng ý" is all there could be
        await ctx.repos.data_requests.log(ctx.ref_key, "delete", done=True, now=ctx.now)
        ctx.reply("Cháu không lưu thông tin gì của bác ạ. Nếu có ghi nhận cũ, cháu đã xóa rồi.")
        return
    ctx.state["flow"] = "confirm_delete"
    ctx.reply(f"⚠️ {you.You} có chắc muốn xóa toàn bộ dữ liệu không ạ? "
              f"Xóa rồi sẽ mất hết tiến độ học, không lấy lại được.",
              [[Choice(label="🗑 Xóa hết dữ liệu", payload="erase:yes")],
               [Choice(label="Không xóa", payload="erase:no")]])


@router.choice("erase", requires=Role.VILLAGER)
async def delete_confirm(inbound: Inbound, ctx: Context) -> None:
    if ctx.state.get("flow") != "confirm_delete":
        show_menu(ctx, "Nút đó thuộc tin nhắn cũ rồi ạ.")
        return
    if inbound.payload != "erase:yes":
        show_menu(ctx, "Dạ, cháu giữ nguyên dữ liệu ạ.")
        return
    you = address(ctx)
    await ctx.erase_person()
    await ctx.repos.data_requests.log(ctx.ref_key, "delete", done=True, now=ctx.now)
    ctx.reply(f"✅ {you.Me} đã xóa toàn bộ dữ liệu của {you.you} trên máy chủ của xã. "
              f"Không xóa được: tin đã chuyển tới máy của người giúp {you.you}, và bản sao lưu (tự thay mới sau "
              f"vài ngày). Nếu muốn học lại, {you.you} gõ /start nhé.")


@router.flow("confirm_delete", requires=Role.VILLAGER)
async def delete_typed(inbound: Inbound, ctx: Context) -> None:
    show_menu(ctx, "Dạ, cháu giữ nguyên dữ liệu ạ.")


@router.command("dulieucuatoi", requires=Role.ANYONE, describe="Xem dữ liệu Trợ lý số đang lưu")
async def my_data(inbound: Inbound, ctx: Context) -> None:
    """A copy of everything stored about the person (Law 91/2025 Art 4)."""
    await ctx.repos.data_requests.log(ctx.ref_key, "copy", done=True, now=ctx.now)
    ctx.reply(await mydata.describe(ctx), [[menu_button()]] if ctx.person is not None else None)


# ---- the unexpected ------------------------------------------------------------------------------

@router.fallback
async def fallback(inbound: Inbound, ctx: Context) -> None:
    if ctx.person is None:
        if await onboarding.consent_typed(inbound, ctx):
            return
        onboarding.ask_consent(ctx, "Cháu chào bác ạ! Trước khi học, cháu cần bác đồng ý một điều.")
        return
    if inbound.kind is InboundKind.TEXT and fold(inbound.text) in MENU_WORDS:
        show_menu(ctx)
        return
    if await help.relay_from_person(inbound, ctx):  # a helper has their request: it goes to them
        return
    you = address(ctx)
    if inbound.problem == "photo_too_large":
        lead = f"Ảnh này lớn quá, {you.me} chưa nhận được ạ. {you.You} chụp màn hình hoặc gửi ảnh nhỏ hơn nhé."
    elif inbound.problem:
        lead = f"{you.Me} chưa mở được ảnh này ạ. {you.You} gửi lại giúp {you.me} nhé."
    elif inbound.kind is InboundKind.PHOTO:
        lead = f"{you.Me} đã nhận ảnh, nhưng bài học này chưa cần ảnh ạ."
    elif inbound.kind is InboundKind.OTHER:
        lead = f"{you.Me} chưa đọc được loại tin này (nhãn dán, tin nhắn thoại, tệp) ạ."
    elif inbound.kind is InboundKind.CHOICE:
        lead = "Nút đó thuộc tin nhắn cũ rồi ạ."
    else:
        lead = f"{you.Me} chưa hiểu ý {you.you} ạ."
    lesson_id = in_progress(ctx)
    if lesson_id is not None:
        ctx.reply(f"{lead} Mình quay lại bài đang học nhé.")
        learner.show_current(ctx, lesson_id)
        return
    ctx.state["flow"] = None
    ctx.reply(f"{lead} {you.You} chọn một mục bên dưới nhé.", menu_choices(ctx))


@router.forbidden
async def forbidden(inbound: Inbound, ctx: Context) -> None:
    if ctx.person is None:
        onboarding.ask_consent(ctx, "Trước khi học, cháu cần bác đồng ý một điều ạ.")
        return
    show_menu(ctx, "Xin lỗi, chức năng này dành cho người khác ạ.")


# Registered last, so the command menu starts with /start, /menu and help.
router.include(onboarding.router)
router.include(learner.router)
router.include(progress.router)
router.include(milestone.router)
router.include(help.router)
router.include(mentor.router)
router.include(meeting.router)
router.include(official.router)
router.include(qrcheck.router)
router.include(certificate.router)
router.include(poster.router)
router.include(broadcast.router)
router.include(training.router)
router.include(contest.router)
router.include(withdraw.router)
router.include(stats.router)
