"""Asking for help (villager side): "Chưa hiểu", "Hỏi người hỗ trợ", a question, a screenshot or a visit;
then talking with the mentor through the bot, sharing a phone number if they choose, and rating."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bot.context import Context
from bot.messages import Choice, Inbound, InboundKind, Reply
from bot.roles import Role
from bot.routing import Router
from handlers import cases, onboarding
from handlers.menu import in_progress, show_menu
from handlers.voice import CONTINUE, REPEAT, address, menu_button
from storage.models_help import Escalation

router = Router()

HELP_PURPOSE = "help"
HELP_CONSENT_VERSION = "v2"
PHOTO_DAYS = 7  # a help screenshot is kept at most this long, and deleted when the request closes


def help_consent_text() -> str:
    return ("{Cháu} sẽ gửi cho tình nguyện viên của xã: xóm, nhóm tuổi, bài {bác} đang học, vài câu trả lời gần đây "
            "và câu hỏi, ảnh của {bác}. {Cháu} không gửi tên hay số điện thoại của {bác}. Nếu người giúp dùng "
            "Telegram, tin được lưu trên máy chủ của Telegram ở nước ngoài.\n"
            "⚠️ Đừng gửi mã OTP, mật khẩu, số thẻ ngân hàng hay ảnh căn cước, kể cả trong ảnh chụp màn hình.\n"
            "{Bác} đồng ý không ạ?")


@router.choice("stuck", "help", requires=Role.VILLAGER)
async def ask_for_help(inbound: Inbound, ctx: Context) -> None:
    """From "❓ Chưa hiểu" on a step (stuck:<lesson>:<step>) or "🙋 Hỏi người hỗ trợ" in the menu."""
    if inbound.payload.startswith("stuck:"):
        _, lesson_id, step_id = [*inbound.payload.split(":"), "", ""][:3]
        await start_help(ctx, lesson_id, step_id)
    else:
        await start_help(ctx, ctx.state.get("lesson"), ctx.state.get("step"))


async def start_help(ctx: Context, lesson_id: object, step_id: object) -> None:
    assert ctx.person is not None
    if await onboarding.continue_onboarding(ctx):  # age first, and for a child a parent's "yes"
        return
    you = address(ctx)
    ctx.state["help_at"] = [lesson_id, step_id]
    active = await ctx.repos.escalations.active_for(ctx.person.id)
    if active is not None:
        ctx.reply(f"{you.You} đã có một yêu cầu đang chờ (số {active.id}). {you.You} cứ nhắn thêm, "
                  f"{you.me} chuyển cho tình nguyện viên.", [[menu_button()]])
        return
    agreed = await ctx.repos.consent.latest(ctx.ref, HELP_PURPOSE)
    if agreed is None or not agreed.granted:
        ctx.state["flow"] = None
        ctx.reply(you.adapt(help_consent_text()), [[Choice(label="✅ Đồng ý", payload="helpok:yes")],
                                                 [Choice(label="Không, cảm ơn", payload="helpok:no")]])
        return
    offer_ways(ctx)


def offer_ways(ctx: Context) -> None:
    you = address(ctx)
    ctx.state["flow"] = "help_question"
    rows = [[Choice(label="📞 Nhờ gọi/đến nhà", payload="visit")]]
    lesson_id, step_id = (ctx.state.get("help_at") or [None, None])[:2]
    if lesson_id and step_id and ctx.catalog.lesson(str(lesson_id)):
        rows.append([Choice(label=REPEAT, payload=f"again:{lesson_id}:{step_id}")])
    rows.append([menu_button()])
    ctx.reply(f"{you.You} gõ câu hỏi, hoặc gửi ảnh chụp màn hình điện thoại.\n"
              f"Khó gõ chữ thì bấm **📞 Nhờ gọi/đến nhà**.", rows, numbered=False)


@router.choice("helpok", requires=Role.VILLAGER)
async def help_consent(inbound: Inbound, ctx: Context) -> None:
    granted = inbound.payload == "helpok:yes"
    await ctx.repos.consent.record(ref=ctx.ref, channel=ctx.channel, purpose=HELP_PURPOSE,
                                   text_version=HELP_CONSENT_VERSION,
                                   text=address(ctx).adapt(help_consent_text()), granted=granted)
    if granted:
        offer_ways(ctx)
        return
    you = address(ctx)
    show_menu(ctx, f"Dạ vâng. Khi cần, {you.you} nhờ người thân hoặc tổ công nghệ số ở xóm giúp nhé.")


@router.flow("help_question", requires=Role.VILLAGER)
async def question_typed(inbound: Inbound, ctx: Context) -> None:
    if inbound.kind is InboundKind.PHOTO and inbound.photo is None:
        you = address(ctx)
        ctx.reply(f"{you.Me} chưa nhận được ảnh này ạ. {you.You} gửi lại, hoặc gõ câu hỏi nhé.", numbered=False)
        return
    if inbound.kind is InboundKind.PHOTO:
        await open_request(ctx, "photo", inbound.text, photo=inbound.photo)
    else:
        await open_request(ctx, "question", inbound.text[:1000])


@router.choice("visit", requires=Role.VILLAGER)
async def visit(inbound: Inbound, ctx: Context) -> None:
    await open_request(ctx, "visit", "")


async def open_request(ctx: Context, kind: str, question: str, photo: bytes | None = None) -> None:
    person = ctx.person
    assert person is not None
    if await onboarding.continue_onboarding(ctx):
        return
    you = address(ctx)
    if await ctx.repos.escalations.active_for(person.id) is not None:
        show_menu(ctx, f"{you.You} đã có một yêu cầu đang chờ rồi ạ.")
        return
    lesson_id, step_id = (ctx.state.get("help_at") or [None, None])[:2]
    context: dict[str, Any] = {"recent": list(ctx.state.get("recent") or [])[-3:]}
    if photo is not None:
        context["photo"] = await ctx.repos.media.put(photo, "image/jpeg", dt.timedelta(days=PHOTO_DAYS))
    case = await ctx.repos.escalations.open(
        person_id=person.id, commune_id=person.commune_id, hamlet_id=person.hamlet_id, age_group=person.age_group,
        lesson_id=lesson_id if ctx.catalog.lesson(str(lesson_id)) else None,
        step_id=str(step_id) if step_id else None, kind=kind, question=question, context=context)
    told = await cases.ping(ctx, case, await ctx.repos.mentors.available(person.commune_id, person.hamlet_id))
    level = 0
    if told == 0:  # nobody serves the hamlet: every mentor at once, else the officials
        level = 1
        told = await cases.ping(ctx, case, await ctx.repos.mentors.available(person.commune_id))
    if told == 0:
        level = 2
        told = await cases.ping(ctx, case, await ctx.repos.mentors.officials(person.commune_id))
    case.level = level
    if level < 1:
        ctx.schedule("help_raise", ctx.now + ctx.community.help_to_all_mentors, case=case.id, level=1)
    if level < 2:
        ctx.schedule("help_raise", ctx.now + ctx.community.help_to_officials, case=case.id, level=2)
    ctx.state["flow"] = None
    ctx.state.pop("help_at", None)
    who = "tình nguyện viên" if level < 2 else "cán bộ xã"
    rows = [[Choice(label=CONTINUE, payload="resume")]] if in_progress(ctx) else []
    rows.append([menu_button()])
    if told == 0:
        ctx.reply(f"{you.Me} đã ghi lại yêu cầu (số {case.id}). Hiện chưa có ai trực, "
                  f"{you.me} sẽ báo ngay khi có người nhận ạ.", rows)
        return
    ctx.reply(f"✅ {you.Me} đã báo {who} (yêu cầu số {case.id}). Khi có người nhận, {you.me} báo {you.you} ngay.\n"
              f"Trong lúc chờ, {you.you} cứ học tiếp nhé.", rows)


# ---- talking with the helper ---------------------------------------------------------------------

async def relay_from_person(inbound: Inbound, ctx: Context) -> bool:
    """Text or a photo from someone whose request a helper has taken goes to that helper. True if relayed."""
    person = ctx.person
    if person is None or inbound.kind not in (InboundKind.TEXT, InboundKind.PHOTO):
        return False
    case = await ctx.repos.escalations.active_for(person.id)
    if case is None or case.status != "claimed" or case.claimed_by is None:
        return False
    helper = await ctx.repos.mentors.by_id(case.claimed_by)
    if helper is None:
        return False
    you = address(ctx)
    if ctx.state.get("flow") == "share_phone":
        ctx.state["flow"] = None
        case.phone_shared = True
        ctx.notify(helper.ref, Reply(text=f"📞 Người dân (yêu cầu #{case.id}) chia sẻ số điện thoại: "
                                          f"{inbound.text}"))
        ctx.reply(f"✅ {you.Me} đã gửi số điện thoại cho {cases.helper_name(helper)}.", [[menu_button()]])
        return True
    if inbound.kind is InboundKind.PHOTO and inbound.photo is None:
        return False
    text = cases.labelled(f"Người dân (yêu cầu #{case.id})", inbound.text or "(ảnh)", phone_shared=case.phone_shared)
    ctx.notify(helper.ref, Reply(text=text, image=inbound.photo))
    ctx.reply(f"✅ Đã chuyển cho {cases.helper_name(helper)}.",
              [[Choice(label="📞 Gửi số điện thoại", payload=f"phone:{case.id}")], [menu_button()]])
    return True


@router.choice("phone", requires=Role.VILLAGER)
async def share_phone(inbound: Inbound, ctx: Context) -> None:
    you = address(ctx)
    case = await _own_case(ctx, inbound.payload)
    if case is None or case.status != "claimed":
        show_menu(ctx, "Yêu cầu này đã xong rồi ạ.")
        return
    ctx.state["flow"] = "share_phone"
    ctx.reply(f"{you.You} gõ số điện thoại để tình nguyện viên gọi lại. "
              f"Chỉ người đang giúp {you.you} thấy số này.", [[menu_button()]], numbered=False)


@router.flow("share_phone", requires=Role.VILLAGER)
async def phone_typed(inbound: Inbound, ctx: Context) -> None:
    if not await relay_from_person(inbound, ctx):
        ctx.state["flow"] = None
        show_menu(ctx, "Yêu cầu này đã xong rồi ạ.")


async def _own_case(ctx: Context, payload: str) -> Escalation | None:
    raw = payload.split(":")[1] if ":" in payload else ""
    case = await ctx.repos.escalations.get(int(raw)) if raw.isdigit() else None
    if case is None or ctx.person is None or case.person_id != ctx.person.id:
        return None
    return case


@router.choice("goto", requires=Role.VILLAGER)
async def go_to_lesson(inbound: Inbound, ctx: Context) -> None:
    """A mentor sent the person to a lesson step."""
    from handlers.learner import go_to_step

    _, lesson_id, step_id = [*inbound.payload.split(":"), "", ""][:3]
    lesson = ctx.catalog.lesson(lesson_id)
    index = lesson.step_index(step_id) if lesson else None
    if lesson is None or index is None:
        show_menu(ctx, "Bài đó không còn nữa ạ.")
        return
    await go_to_step(ctx, lesson, index)


# ---- after the helper is done: rating, or "Vẫn chưa được" --------------------------------------

def rating_choices(case_id: int) -> list[list[Choice]]:
    return [[Choice(label=f"{n}⭐", payload=f"rate:{case_id}:{n}") for n in range(1, 6)],
            [Choice(label="Vẫn chưa được", payload=f"reopen:{case_id}")]]


@router.choice("rate", requires=Role.VILLAGER)
async def rate(inbound: Inbound, ctx: Context) -> None:
    case = await _own_case(ctx, inbound.payload)
    stars = inbound.payload.rsplit(":", 1)[-1]
    if case is None or case.status != "resolved" or not stars.isdigit() or not 1 <= int(stars) <= 5:
        show_menu(ctx, "Nút đó thuộc tin nhắn cũ rồi ạ.")
        return
    case.rating = int(stars)
    you = address(ctx)
    show_menu(ctx, f"Cảm ơn {you.you} đã chấm {stars}⭐ ạ!")


@router.choice("reopen", requires=Role.VILLAGER)
async def reopen(inbound: Inbound, ctx: Context) -> None:
    case = await _own_case(ctx, inbound.payload)
    you = address(ctx)
    if case is None or case.status != "resolved":
        show_menu(ctx, "Nút đó thuộc tin nhắn cũ rồi ạ.")
        return
    case.status, case.resolved_at, case.reopened = "claimed", None, case.reopened + 1
    helper = await ctx.repos.mentors.by_id(case.claimed_by) if case.claimed_by else None
    if helper is not None:
        ctx.notify(helper.ref, Reply(text=f"🔁 Yêu cầu #{case.id} mở lại: người dân nói vẫn chưa được.",
                                     choices=cases.helper_tools(case.id)))
    ctx.reply(f"Dạ, {you.me} đã báo lại tình nguyện viên. {you.You} nhắn thêm điều chưa được nhé.",
              [[menu_button()]])
