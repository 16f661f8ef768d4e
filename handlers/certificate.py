"""Certificates ("giấy chứng nhận") for finishing a track, and checking one with /xacminh."""

from __future__ import annotations

from bot.context import Context
from bot.media.certificate import make_certificate, new_verification_code, normalize_verification_code
from bot.messages import Choice, Inbound
from bot.roles import Role
from bot.routing import Router
from handlers.menu import show_menu
from handlers.voice import address, menu_button
from lessons.schema import Lesson
from storage.models_help import Certificate

router = Router()

PURPOSE = "certificate"
CONSENT_VERSION = "v2"


def consent_text() -> str:
    return ("Để in giấy chứng nhận, {cháu} cần họ tên của {bác}. Tên dùng để in giấy, để người khác kiểm tra "
            "giấy là thật, và để xã ghi tên trong danh sách đề nghị khen thưởng. Xóa dữ liệu bằng /xoadulieu thì "
            "giấy cũng hết giá trị.\n{Bác} đồng ý không ạ?")


def verification(ctx: Context, code: str) -> str:
    return f"{ctx.community.public_url}/verify/{code}" if ctx.community.public_url else code


async def offer_if_track_done(ctx: Context, lesson: Lesson) -> bool:
    """After a lesson is passed: if that finished its whole track, offer the certificate (True if offered)."""
    assert ctx.person is not None
    track = ctx.catalog.track(lesson.track)
    lessons = ctx.catalog.by_track.get(lesson.track, [])
    done = await ctx.repos.progress.completed_lessons(ctx.person.id)
    if track is None or not lessons or any(item.id not in done for item in lessons):
        return False
    if await ctx.repos.certificates.of(ctx.person.id, track.id) is not None:
        return False
    you = address(ctx)
    ctx.reply(f"🎓 {you.You} đã học xong cả chủ đề **{track.title}**! {you.You} có muốn nhận giấy chứng nhận không?",
              [[Choice(label="🎓 Nhận chứng nhận", payload=f"cert:{track.id}")], [menu_button()]])
    return True


@router.choice("cert", requires=Role.VILLAGER)
async def want_certificate(inbound: Inbound, ctx: Context) -> None:
    assert ctx.person is not None
    track_id = inbound.payload.partition(":")[2]
    track = ctx.catalog.track(track_id)
    lessons = ctx.catalog.by_track.get(track_id, [])
    done = await ctx.repos.progress.completed_lessons(ctx.person.id)
    if track is None or not lessons or any(item.id not in done for item in lessons):
        show_menu(ctx, "Chủ đề này chưa học xong ạ.")
        return
    ctx.state["cert_track"] = track.id
    agreed = await ctx.repos.consent.latest(ctx.ref, PURPOSE)
    if agreed is None or not agreed.granted:
        ctx.reply(address(ctx).adapt(consent_text()), [[Choice(label="✅ Đồng ý", payload="certok:yes")],
                                                       [Choice(label="Không, cảm ơn", payload="certok:no")]])
        return
    ask_name(ctx)


@router.choice("certok", requires=Role.VILLAGER)
async def certificate_consent(inbound: Inbound, ctx: Context) -> None:
    granted = inbound.payload == "certok:yes"
    await ctx.repos.consent.record(ref=ctx.ref, channel=ctx.channel, purpose=PURPOSE, text_version=CONSENT_VERSION,
                                   text=address(ctx).adapt(consent_text()), granted=granted)
    if granted and ctx.state.get("cert_track"):
        ask_name(ctx)
        return
    show_menu(ctx, "Dạ vâng ạ.")


def ask_name(ctx: Context) -> None:
    you = address(ctx)
    ctx.state["flow"] = "cert_name"
    ctx.reply(f"{you.You} gõ họ tên để in lên giấy, ví dụ: Nguyễn Thị Hoà", [[menu_button()]], numbered=False)


@router.flow("cert_name", requires=Role.VILLAGER)
async def name_typed(inbound: Inbound, ctx: Context) -> None:
    assert ctx.person is not None
    name = " ".join(inbound.text.split())
    you = address(ctx)
    if not 2 <= len(name) <= 60 or any(ch.isdigit() for ch in name):
        ctx.reply(f"{you.You} gõ họ tên bằng chữ (không có số) giúp {you.me} nhé.", numbered=False)
        return
    track = ctx.catalog.track(str(ctx.state.pop("cert_track", "")))
    ctx.state["flow"] = None
    if track is None:
        show_menu(ctx)
        return
    code = new_verification_code()
    issued = ctx.local().date()
    commune = ctx.community.commune_name
    await ctx.repos.certificates.issue(person_id=ctx.person.id, code=code, name=name, track_id=track.id,
                                       track_title=track.title, commune_name=commune, issued_on=issued)
    png, pdf = make_certificate(name=name, track=track.title, date=issued, commune=commune[:1].upper() + commune[1:],
                                verify_url_or_code=verification(ctx, code))
    ctx.reply(f"🎓 Giấy chứng nhận của {you.you}. Mã kiểm tra: **{code}**\n"
              f"Ai cũng kiểm tra được: nhắn /xacminh {code} cho Trợ lý số.", image=png)
    ctx.reply("📄 Bản PDF để in:", [[menu_button()]], document=pdf, document_name=f"giay-chung-nhan-{track.id}.pdf")


def describe(certificate: Certificate) -> str:
    return (f"✅ Giấy chứng nhận hợp lệ: {certificate.name} đã hoàn thành chủ đề «{certificate.track_title}» "
            f"ngày {certificate.issued_on:%d/%m/%Y}, {certificate.commune_name}.")


@router.command("xacminh", requires=Role.ANYONE, describe="Kiểm tra một giấy chứng nhận")
async def verify(inbound: Inbound, ctx: Context) -> None:
    code = normalize_verification_code(inbound.args)
    certificate = await ctx.repos.certificates.verify(code) if code else None
    if certificate is None:
        ctx.reply("❌ Không tìm thấy giấy chứng nhận với mã này. Kiểm tra lại từng chữ của mã nhé.")
        return
    ctx.reply(describe(certificate))
