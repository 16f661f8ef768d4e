"""1-1 coaching ("kèm cặp 1-1"): the mentor proposes a time and place, the villager confirms or asks for
another, both are reminded the evening before, and afterwards the mentor records it and may mark lessons
done "with help" (assisted progress, counted apart)."""

from __future__ import annotations

import datetime as dt

from bot.context import Context
from bot.messages import Choice, Inbound, Reply
from bot.roles import Role
from bot.routing import Router
from handlers import cases
from handlers.menu import show_menu
from handlers.numbers import pick_many
from handlers.timefmt import evening_before, parse_when, spoken
from handlers.voice import menu_button
from lessons.textmatch import fold
from storage.models_help import Escalation, Meeting

router = Router()


async def _held_case(ctx: Context, raw: str) -> Escalation | None:
    case = await ctx.repos.escalations.get(int(raw)) if raw.isdigit() else None
    if case is None or ctx.person is None or case.claimed_by != ctx.person.id:
        return None
    return case


# ---- the mentor proposes -------------------------------------------------------------------------

@router.choice("meet", requires=Role.HELPER)
async def propose(inbound: Inbound, ctx: Context) -> None:
    case = await _held_case(ctx, inbound.payload.partition(":")[2])
    if case is None or case.status != "claimed":
        ctx.reply("Yêu cầu này không còn do bạn giúp.")
        return
    ctx.state.update(flow="meet_time", case=case.id)
    ctx.reply("Hẹn gặp lúc nào? Gõ ngày và giờ, ví dụ: 14/12 8:30", [[Choice(label="↩ Quay lại",
                                                                            payload=f"claim:{case.id}")]],
              numbered=False)


@router.flow("meet_time", requires=Role.HELPER)
async def time_typed(inbound: Inbound, ctx: Context) -> None:
    when = parse_when(inbound.text, ctx.community.timezone, ctx.now)
    if when is None:
        ctx.reply("Mình chưa hiểu giờ hẹn. Gõ ngày/tháng rồi giờ:phút, ví dụ: 14/12 8:30 (phải là giờ sắp tới).",
                  numbered=False)
        return
    ctx.state.update(flow="meet_place", meet_at=when.isoformat())
    ctx.reply("Gặp ở đâu? Gõ địa điểm, ví dụ: Nhà văn hóa Xóm 3", numbered=False)


@router.flow("meet_place", requires=Role.HELPER)
async def place_typed(inbound: Inbound, ctx: Context) -> None:
    case = await _held_case(ctx, str(ctx.state.get("case") or ""))
    place = cases.mask_phones(" ".join(inbound.text.split()))[:200]
    if case is None or not ctx.state.get("meet_at"):
        show_menu(ctx, "Yêu cầu này không còn do bạn giúp.")
        return
    if len(place) < 3:
        ctx.reply("Bạn gõ địa điểm rõ hơn giúp mình nhé.", numbered=False)
        return
    assert ctx.person is not None
    when = dt.datetime.fromisoformat(str(ctx.state.pop("meet_at")))
    meeting = await ctx.repos.meetings.propose(case.id, ctx.person.id, case.person_id, when, place)
    asker = await ctx.repos.mentors.by_id(case.person_id)
    assert asker is not None
    ctx.notify(asker.ref, Reply(
        text=f"📅 {cases.helper_name(ctx.person)} hẹn gặp bác lúc {spoken(when, ctx.community.timezone)}, "
             f"tại {place}, để hướng dẫn trực tiếp.",
        choices=[[Choice(label="✅ Đồng ý", payload=f"meetok:{meeting.id}")],
                 [Choice(label="🕒 Hẹn giờ khác", payload=f"meetother:{meeting.id}")]]))
    ctx.state["flow"] = "relay"
    ctx.reply(f"Đã gửi lời hẹn ({spoken(when, ctx.community.timezone)}, {place}). Mình báo bạn khi bác trả lời.",
              cases.helper_tools(case.id))


# ---- the villager answers ------------------------------------------------------------------------

async def _own_meeting(ctx: Context, payload: str) -> Meeting | None:
    raw = payload.partition(":")[2]
    meeting = await ctx.repos.meetings.get(int(raw)) if raw.isdigit() else None
    if meeting is None or ctx.person is None or meeting.person_id != ctx.person.id:
        return None
    return meeting


@router.choice("meetok", requires=Role.VILLAGER)
async def confirm(inbound: Inbound, ctx: Context) -> None:
    meeting = await _own_meeting(ctx, inbound.payload)
    if meeting is None or meeting.status != "proposed":
        show_menu(ctx, "Lời hẹn đó đã cũ rồi ạ.")
        return
    meeting.status = "confirmed"
    zone = ctx.community.timezone
    when = spoken(meeting.at, zone)
    mentor = await ctx.repos.mentors.by_id(meeting.mentor_id) if meeting.mentor_id else None
    if mentor is not None:
        record_button = Choice(label="📝 Ghi nhận buổi gặp", payload=f"meetdone:{meeting.id}")
        ctx.notify(mentor.ref, Reply(text=f"✅ Người dân đã đồng ý gặp lúc {when}, tại {meeting.place}.",
                                     choices=[[record_button]]))
    remind_at = evening_before(meeting.at, zone)
    if remind_at > ctx.now:
        ctx.schedule("meet_remind", remind_at, meeting=meeting.id)
    ctx.reply(f"✅ Đã hẹn: {when}, tại {meeting.place}. Tối hôm trước cháu nhắc bác nhé.", [[menu_button()]])


@router.choice("meetother", requires=Role.VILLAGER)
async def ask_another_time(inbound: Inbound, ctx: Context) -> None:
    meeting = await _own_meeting(ctx, inbound.payload)
    if meeting is None or meeting.status != "proposed":
        show_menu(ctx, "Lời hẹn đó đã cũ rồi ạ.")
        return
    meeting.status = "declined"
    ctx.state.update(flow="meet_other", meeting=meeting.id)
    ctx.reply("Bác rảnh lúc nào ạ? Bác gõ ngày giờ, cháu chuyển cho tình nguyện viên.", [[menu_button()]],
              numbered=False)


@router.flow("meet_other", requires=Role.VILLAGER)
async def other_time_typed(inbound: Inbound, ctx: Context) -> None:
    raw = str(ctx.state.pop("meeting", ""))
    ctx.state["flow"] = None
    meeting = await _own_meeting(ctx, f"x:{raw}")
    mentor = await ctx.repos.mentors.by_id(meeting.mentor_id) if meeting and meeting.mentor_id else None
    if meeting is None or mentor is None:
        show_menu(ctx)
        return
    ctx.notify(mentor.ref, Reply(text=cases.labelled(f"Người dân (yêu cầu #{meeting.escalation_id}) xin hẹn giờ khác",
                                                     inbound.text or "(không ghi)", phone_shared=False),
                                 choices=[[Choice(label="📅 Hẹn lại", payload=f"meet:{meeting.escalation_id}")]]))
    ctx.reply("✅ Cháu đã chuyển lời cho tình nguyện viên. Bạn ấy sẽ hẹn lại bác.", [[menu_button()]])


@router.job("meet_remind")
async def remind(inbound: Inbound, ctx: Context) -> None:
    meeting = await ctx.repos.meetings.get(int(inbound.data["meeting"]))
    if meeting is None or meeting.status != "confirmed":
        return
    when = spoken(meeting.at, ctx.community.timezone)
    person = await ctx.repos.mentors.by_id(meeting.person_id)
    mentor = await ctx.repos.mentors.by_id(meeting.mentor_id) if meeting.mentor_id else None
    if person is not None:
        ctx.notify(person.ref, Reply(text=f"⏰ Nhắc bác: mai {when}, gặp tình nguyện viên tại {meeting.place}. "
                                          "Bác nhớ mang theo điện thoại đã sạc pin nhé."))
    if mentor is not None:
        ctx.notify(mentor.ref, Reply(text=f"⏰ Nhắc bạn: mai {when}, hẹn kèm 1-1 tại {meeting.place}."))


# ---- afterwards ----------------------------------------------------------------------------------

@router.choice("meetdone", requires=Role.HELPER)
async def record(inbound: Inbound, ctx: Context) -> None:
    raw = inbound.payload.partition(":")[2]
    meeting = await ctx.repos.meetings.get(int(raw)) if raw.isdigit() else None
    if meeting is None or ctx.person is None or meeting.mentor_id != ctx.person.id:
        ctx.reply("Buổi gặp này không do bạn hẹn.")
        return
    ctx.state.update(flow="meet_notes", meeting=meeting.id)
    ctx.reply("Buổi gặp đã hướng dẫn những gì? Gõ ngắn gọn.", numbered=False)


@router.flow("meet_notes", requires=Role.HELPER)
async def notes_typed(inbound: Inbound, ctx: Context) -> None:
    raw = str(ctx.state.get("meeting", ""))
    meeting = await ctx.repos.meetings.get(int(raw)) if raw.isdigit() else None
    if meeting is None:
        show_menu(ctx)
        return
    meeting.status, meeting.notes = "done", cases.mask_phones(inbound.text)[:2000]
    ctx.state["flow"] = "meet_assist"
    listing = "\n".join(f"{n}. {lesson.title}" for n, lesson in enumerate(ctx.catalog.in_order(), 1))
    ctx.reply("Bác đã học xong bài nào nhờ bạn kèm? Gõ số bài, cách nhau bằng dấu phẩy, hoặc «không».\n\n"
              f"{listing}", numbered=False)


@router.flow("meet_assist", requires=Role.HELPER)
async def assisted_typed(inbound: Inbound, ctx: Context) -> None:
    raw = str(ctx.state.get("meeting", ""))
    meeting = await ctx.repos.meetings.get(int(raw)) if raw.isdigit() else None
    lessons = ctx.catalog.in_order()
    if meeting is None:
        show_menu(ctx)
        return
    if fold(inbound.text) in {"khong", "0", ""}:
        chosen = []
    else:
        picked = pick_many(inbound.text, lessons)
        if picked is None:
            ctx.reply(f"Mình chưa hiểu. Gõ số từ 1 đến {len(lessons)}, hoặc «không».", numbered=False)
            return
        chosen = picked
    assert ctx.person is not None
    for lesson in chosen:
        await ctx.repos.progress.assisted(meeting.person_id, lesson.id, [s.id for s in lesson.steps], ctx.person.id)
    ctx.state["flow"] = None
    ctx.state.pop("meeting", None)
    done = ", ".join(f"«{lesson.title}»" for lesson in chosen) or "không có bài nào"
    ctx.reply(f"✅ Đã ghi nhận buổi gặp. Bài học có hỗ trợ: {done}. Cảm ơn bạn!", [[menu_button()]])
