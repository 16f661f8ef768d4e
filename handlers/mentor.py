"""Volunteer mentors (Tổ công nghệ số cộng đồng): joining with an invite code, pausing, taking help
requests (first claim wins), talking through the bot, quick answers, sending a lesson, closing a case."""

from __future__ import annotations

from bot.context import Context
from bot.messages import Choice, Inbound, InboundKind, Reply
from bot.roles import Role
from bot.routing import Router
from handlers import cases, help, invite_guard
from handlers.menu import show_menu
from handlers.numbers import pick_many
from handlers.voice import menu_button
from lessons.textmatch import fold
from storage.models_help import Escalation

router = Router()

MENTOR_PURPOSE = "mentoring"
MENTOR_CONSENT_VERSION = "v1"
QUICK_ANSWERS = [
    "Bác thử tắt hẳn ứng dụng rồi mở lại nhé.",
    "Bác xem điện thoại đã bật Wi-Fi hoặc 4G chưa ạ.",
    "Bác vào CH Play cập nhật ứng dụng lên bản mới nhất nhé.",
]


def mentor_consent_text() -> str:
    return ("Để làm tình nguyện viên, Trợ lý số lưu: tên bạn muốn bà con gọi và các xóm bạn phụ trách, "
            "để gửi yêu cầu hỗ trợ cho bạn. Bạn xem hoặc xóa bằng /dulieucuatoi, /xoadulieu.\nBạn đồng ý không?")


# ---- joining -------------------------------------------------------------------------------------

@router.command("tnv", requires=Role.VILLAGER, describe="Tham gia tổ công nghệ số (cần mã mời)")
async def join(inbound: Inbound, ctx: Context) -> None:
    person = ctx.person
    assert person is not None
    if person.is_mentor:
        ctx.reply("Bạn đã là tình nguyện viên rồi ạ. Gõ /ca để xem yêu cầu hỗ trợ.", [[menu_button()]])
        return
    code = inbound.args.strip()
    if not code:
        ctx.reply("Bạn gõ /tnv kèm mã mời cán bộ xã gửi, ví dụ: /tnv ABCDE-FGHIJ")
        return
    if invite_guard.locked_out(ctx):
        invite_guard.refuse(ctx)
        return
    if await ctx.repos.invites.redeem(code, "mentor", person.id, ctx.now) is None:
        invite_guard.record_wrong(ctx)
        ctx.reply("Mã mời không dùng được (sai, đã dùng hoặc hết hạn). Bạn xin cán bộ xã mã mới nhé.")
        return
    person.is_mentor = True
    ctx.refresh_commands()
    ctx.state["flow"] = None
    ctx.reply(mentor_consent_text(), [[Choice(label="✅ Đồng ý", payload="mentorok:yes")],
                                      [Choice(label="Không đồng ý", payload="mentorok:no")]])


@router.choice("mentorok", requires=Role.MENTOR)
async def mentor_consent(inbound: Inbound, ctx: Context) -> None:
    person = ctx.person
    assert person is not None
    granted = inbound.payload == "mentorok:yes"
    await ctx.repos.consent.record(ref=ctx.ref, channel=ctx.channel, purpose=MENTOR_PURPOSE,
                                   text_version=MENTOR_CONSENT_VERSION, text=mentor_consent_text(), granted=granted)
    if not granted:
        person.is_mentor = False
        show_menu(ctx, "Dạ vâng, bạn vẫn học bình thường nhé.")
        return
    ctx.state["flow"] = "mentor_name"
    ctx.reply("Bà con sẽ gọi bạn là gì? Gõ tên ngắn, ví dụ: Lan – Đoàn thanh niên", numbered=False)


@router.flow("mentor_name", requires=Role.MENTOR)
async def mentor_name(inbound: Inbound, ctx: Context) -> None:
    assert ctx.person is not None
    name = cases.mask_phones(" ".join(inbound.text.split()))[:60]
    if len(name) < 2:
        ctx.reply("Bạn gõ tên giúp mình nhé (ít nhất 2 chữ cái).", numbered=False)
        return
    ctx.person.display_name = name
    await ask_hamlets(ctx)


async def ask_hamlets(ctx: Context) -> None:
    hamlets = await ctx.repos.places.hamlets(ctx.community.commune_id)
    ctx.state["flow"] = "mentor_hamlets"
    listing = "\n".join(f"{n}. {h.name}" for n, h in enumerate(hamlets, 1))
    ctx.reply(f"Bạn phụ trách xóm nào? Gõ số, cách nhau bằng dấu phẩy (ví dụ: 1, 3), hoặc gõ «tất cả».\n\n{listing}",
              numbered=False)


@router.command("xomtnv", requires=Role.MENTOR, describe="Đổi các xóm tôi phụ trách")
async def change_hamlets(inbound: Inbound, ctx: Context) -> None:
    await ask_hamlets(ctx)


@router.flow("mentor_hamlets", requires=Role.MENTOR)
async def hamlets_typed(inbound: Inbound, ctx: Context) -> None:
    assert ctx.person is not None
    hamlets = await ctx.repos.places.hamlets(ctx.community.commune_id)
    if fold(inbound.text) in {"tatca", "all"}:
        chosen = hamlets
    else:
        picked = pick_many(inbound.text, hamlets)
        if picked is None:
            ctx.reply(f"Mình chưa hiểu. Gõ số từ 1 đến {len(hamlets)}, cách nhau bằng dấu phẩy nhé.", numbered=False)
            return
        chosen = picked
    await ctx.repos.mentors.set_hamlets(ctx.person.id, [h.id for h in chosen])
    ctx.state["flow"] = None
    names = ", ".join(h.name for h in chosen)
    ctx.reply(f"✅ Xong! Bạn phụ trách: {names}.\nKhi có người cần giúp, mình nhắn bạn kèm nút **✋ Nhận hỗ trợ**.\n"
              "Lệnh: /ca (yêu cầu), /nghi (tạm nghỉ), /sansang (sẵn sàng lại).", [[menu_button()]])


@router.command("nghi", requires=Role.MENTOR, describe="Tạm nghỉ nhận yêu cầu hỗ trợ")
async def pause(inbound: Inbound, ctx: Context) -> None:
    assert ctx.person is not None
    ctx.person.mentor_paused = True
    ctx.reply("Đã tạm nghỉ. Mình không gửi yêu cầu mới cho bạn. Gõ /sansang khi bạn rảnh lại nhé.")


@router.command("sansang", requires=Role.MENTOR, describe="Sẵn sàng nhận yêu cầu hỗ trợ")
async def resume(inbound: Inbound, ctx: Context) -> None:
    assert ctx.person is not None
    ctx.person.mentor_paused = False
    ctx.reply("✅ Bạn đã sẵn sàng. Gõ /ca để xem yêu cầu đang chờ.")


# ---- taking a request ----------------------------------------------------------------------------

@router.choice("claim", requires=Role.HELPER)
async def claim_button(inbound: Inbound, ctx: Context) -> None:
    raw = inbound.payload.partition(":")[2]
    await claim(ctx, int(raw) if raw.isdigit() else 0)


@router.command("nhan", requires=Role.HELPER, describe="Nhận yêu cầu hỗ trợ theo số")
async def claim_command(inbound: Inbound, ctx: Context) -> None:
    raw = inbound.args.strip().lstrip("#")
    if not raw.isdigit():
        ctx.reply("Bạn gõ /nhan kèm số yêu cầu, ví dụ: /nhan 12")
        return
    await claim(ctx, int(raw))


async def claim(ctx: Context, case_id: int) -> None:
    helper = ctx.person
    assert helper is not None
    case = await ctx.repos.escalations.get(case_id)
    if case is None or case.commune_id != helper.commune_id:
        ctx.reply("Không có yêu cầu số này ạ. Gõ /ca để xem danh sách.")
        return
    if case.person_id == helper.id:
        ctx.reply("Đây là yêu cầu của chính bạn ạ.")
        return
    if case.claimed_by == helper.id and case.status == "claimed":
        await _work_on(ctx, case, f"Bạn đang giúp yêu cầu #{case.id}.")
        return
    if case.status != "open" or not await ctx.repos.escalations.claim(case.id, helper.id, ctx.now):
        owner = await ctx.repos.mentors.by_id(case.claimed_by) if case.claimed_by else None
        done = "đã xong" if case.status == "resolved" else f"đã có bạn {cases.helper_name(owner)} nhận"
        ctx.reply(f"Yêu cầu #{case.id} {done} rồi ạ. Cảm ơn bạn!")
        return
    asker = await ctx.repos.mentors.by_id(case.person_id)
    if asker is not None:
        ctx.notify(asker.ref, Reply(
            text=f"✅ {cases.helper_name(helper)} (tổ công nghệ số) đã nhận yêu cầu của bác.\n"
                 "Bác nhắn gì ở đây, cháu chuyển cho bạn ấy.",
            choices=[[Choice(label="📞 Gửi số điện thoại", payload=f"phone:{case.id}")], [menu_button()]]))
    await _work_on(ctx, case, f"✅ Bạn đã nhận yêu cầu #{case.id}.")
    if case.context.get("photo"):
        photo = await ctx.repos.media.get(str(case.context["photo"]))
        if photo is not None:
            ctx.reply("Ảnh chụp màn hình người dân gửi:", image=photo.data)


async def _work_on(ctx: Context, case: Escalation, lead: str) -> None:
    ctx.state["flow"] = "relay"
    ctx.state["case"] = case.id
    ctx.reply(f"{lead}\n\n{await cases.describe(ctx, case)}\n\n"
              "Tin bạn gõ (chữ hoặc ảnh) được chuyển tới người dân, không kèm tên tài khoản hay số điện thoại.",
              cases.helper_tools(case.id))


async def _current_case(ctx: Context, payload: str = "") -> Escalation | None:
    """The case a button names, or the mentor's current one; only if this helper holds it."""
    raw = payload.split(":")[1] if payload.count(":") >= 1 else str(ctx.state.get("case") or "")
    case = await ctx.repos.escalations.get(int(raw)) if raw.isdigit() else None
    if case is None and not payload and ctx.person is not None:  # e.g. /xong after the request was reopened
        case = await ctx.repos.escalations.latest_held_by(ctx.person.id)
    if case is None or ctx.person is None or case.claimed_by != ctx.person.id or case.status != "claimed":
        return None
    return case


@router.flow("relay", requires=Role.HELPER)
async def relay_to_person(inbound: Inbound, ctx: Context) -> None:
    case = await _current_case(ctx)
    if case is None:
        ctx.state["flow"] = None
        show_menu(ctx, "Yêu cầu này đã đóng. Gõ /ca để xem yêu cầu khác.")
        return
    if inbound.kind is InboundKind.PHOTO and inbound.photo is None:
        ctx.reply("Ảnh này chưa gửi được, bạn thử lại nhé.")
        return
    asker = await ctx.repos.mentors.by_id(case.person_id)
    assert ctx.person is not None and asker is not None
    text = cases.labelled(f"{cases.helper_name(ctx.person)} (tình nguyện viên)", inbound.text or "(ảnh)",
                          phone_shared=case.phone_shared)
    ctx.notify(asker.ref, Reply(text=text, image=inbound.photo))
    ctx.reply(f"Đã chuyển cho người dân (yêu cầu #{case.id}).", cases.helper_tools(case.id))


@router.choice("quick", requires=Role.HELPER)
async def quick_answers(inbound: Inbound, ctx: Context) -> None:
    case = await _current_case(ctx, inbound.payload)
    if case is None:
        ctx.reply("Yêu cầu này không còn do bạn giúp.")
        return
    listing = "\n".join(f"{n}. {text}" for n, text in enumerate(QUICK_ANSWERS, 1))
    ctx.reply(f"Chọn câu trả lời nhanh:\n{listing}",
              [[Choice(label=f"Gửi câu {n}", payload=f"canned:{case.id}:{n - 1}")]
               for n in range(1, len(QUICK_ANSWERS) + 1)] + [[Choice(label="↩ Quay lại", payload=f"claim:{case.id}")]])


@router.choice("canned", requires=Role.HELPER)
async def send_canned(inbound: Inbound, ctx: Context) -> None:
    case = await _current_case(ctx, inbound.payload)
    index = inbound.payload.rsplit(":", 1)[-1]
    if case is None or not index.isdigit() or int(index) >= len(QUICK_ANSWERS):
        ctx.reply("Yêu cầu này không còn do bạn giúp.")
        return
    asker = await ctx.repos.mentors.by_id(case.person_id)
    assert ctx.person is not None and asker is not None
    ctx.notify(asker.ref, Reply(text=cases.labelled(f"{cases.helper_name(ctx.person)} (tình nguyện viên)",
                                                    QUICK_ANSWERS[int(index)], phone_shared=True)))
    ctx.reply(f"Đã gửi: «{QUICK_ANSWERS[int(index)]}»", cases.helper_tools(case.id))


@router.choice("sendlesson", requires=Role.HELPER)
async def choose_lesson(inbound: Inbound, ctx: Context) -> None:
    case = await _current_case(ctx, inbound.payload)
    if case is None:
        ctx.reply("Yêu cầu này không còn do bạn giúp.")
        return
    listing = "\n".join(f"{n}. {lesson.title} ({len(lesson.steps)} bước)"
                        for n, lesson in enumerate(ctx.catalog.in_order(), 1))
    ctx.state.update(flow="send_lesson", case=case.id)
    ctx.reply(f"Gửi bài nào? Gõ số bài và số bước, ví dụ «2 3» (bài 2, bước 3).\n\n{listing}",
              [[Choice(label="↩ Quay lại", payload=f"claim:{case.id}")]], numbered=False)


@router.flow("send_lesson", requires=Role.HELPER)
async def lesson_typed(inbound: Inbound, ctx: Context) -> None:
    case = await _current_case(ctx)
    parts = inbound.text.replace(",", " ").split()
    lessons = ctx.catalog.in_order()
    if case is None or not parts or not all(p.isdigit() for p in parts[:2]) or not 1 <= int(parts[0]) <= len(lessons):
        ctx.reply("Mình chưa hiểu. Gõ số bài rồi số bước, ví dụ «2 3».", numbered=False)
        return
    lesson = lessons[int(parts[0]) - 1]
    step = min(max(int(parts[1]) if len(parts) > 1 else 1, 1), len(lesson.steps))
    asker = await ctx.repos.mentors.by_id(case.person_id)
    assert asker is not None
    ctx.notify(asker.ref, Reply(text=f"📘 Tình nguyện viên gửi bác bài «{lesson.title}», bước {step}.",
                                choices=[[Choice(label="▶ Mở bài", payload=f"goto:{lesson.id}:"
                                                 f"{lesson.steps[step - 1].id}")], [menu_button()]]))
    ctx.state["flow"] = "relay"
    ctx.reply(f"Đã gửi bài «{lesson.title}», bước {step}.", cases.helper_tools(case.id))


@router.choice("done", requires=Role.HELPER)
async def done_button(inbound: Inbound, ctx: Context) -> None:
    await resolve(ctx, await _current_case(ctx, inbound.payload))


@router.command("xong", requires=Role.HELPER, describe="Đánh dấu xong yêu cầu đang giúp")
async def done_command(inbound: Inbound, ctx: Context) -> None:
    raw = inbound.args.strip().lstrip("#")
    await resolve(ctx, await _current_case(ctx, f"done:{raw}" if raw.isdigit() else ""))


async def resolve(ctx: Context, case: Escalation | None) -> None:
    if case is None:
        ctx.reply("Bạn không có yêu cầu nào đang giúp. Gõ /ca để xem danh sách.")
        return
    case.status, case.resolved_at = "resolved", ctx.now
    photo = case.context.get("photo")
    if photo:
        await ctx.repos.media.delete(str(photo))  # the screenshot is not kept after the request closes
        case.context = {key: value for key, value in case.context.items() if key != "photo"}
    asker = await ctx.repos.mentors.by_id(case.person_id)
    if asker is not None:
        ctx.notify(asker.ref, Reply(text="✅ Tình nguyện viên đã đánh dấu xong yêu cầu của bác.\n"
                                         "Bác chấm mấy sao ạ? Nếu vẫn chưa được, bấm **Vẫn chưa được**.",
                                    choices=help.rating_choices(case.id)))
    ctx.state["flow"] = None
    ctx.state.pop("case", None)
    ctx.reply(f"✅ Đã đóng yêu cầu #{case.id}. Cảm ơn bạn!", [[Choice(label="📋 Yêu cầu khác", payload="cases")],
                                                             [menu_button()]])


@router.choice("cases", requires=Role.HELPER)
@router.command("ca", requires=Role.HELPER, describe="Các yêu cầu hỗ trợ của tôi")
async def my_cases(inbound: Inbound, ctx: Context) -> None:
    helper = ctx.person
    assert helper is not None
    hamlets = await ctx.repos.mentors.hamlets_of(helper.id)
    rows = await ctx.repos.escalations.cases_of(helper.id, helper.commune_id, hamlets)
    if not rows:
        ctx.reply("Không có yêu cầu nào đang chờ. Cảm ơn bạn! ✅", [[menu_button()]])
        return
    lines = []
    for case in rows[:10]:
        minutes = int((ctx.now - case.created_at).total_seconds() // 60)
        mine = "bạn đang giúp" if case.claimed_by == helper.id else "đang chờ"
        lines.append(f"#{case.id} · {cases.KIND_TEXT.get(case.kind, case.kind)} · {minutes} phút trước · {mine}")
    choices = [[Choice(label=f"Mở #{case.id}", payload=f"claim:{case.id}")] for case in rows[:3]]
    ctx.reply("📋 Yêu cầu hỗ trợ (cũ nhất trước):\n" + "\n".join(lines) + "\n\nGõ /nhan <số> để nhận.",
              [*choices, [menu_button()]])


# ---- timers: nobody took it ----------------------------------------------------------------------

@router.job("help_raise")
async def raise_request(inbound: Inbound, ctx: Context) -> None:
    """15 minutes unclaimed → every available mentor; 2 hours → the officials. Fires once; no-op if taken."""
    level = int(inbound.data.get("level", 1))
    case = await ctx.repos.escalations.raise_level(int(inbound.data["case"]), level)
    if case is None:
        return
    people = (await ctx.repos.mentors.available(case.commune_id) if level == 1
              else await ctx.repos.mentors.officials(case.commune_id))
    await cases.ping(ctx, case, people)
