"""First contact: greeting, consent (Law 91/2025, Decree 356/2025), hamlet, age group, guardian."""

from __future__ import annotations

from bot.context import Context
from bot.messages import Choice, Inbound, InboundKind
from bot.roles import Role
from bot.routing import Router
from handlers.menu import show_menu
from handlers.numbers import pick_one
from handlers.voice import AGE_GROUPS, address, paged
from lessons.textmatch import fold, matches
from storage.models import Person

router = Router()

PURPOSE = "learning"
GUARDIAN_PURPOSE = "guardian"  # a parent's confirmation for a child under 16
GUARDIAN_AGREES = "Bố mẹ đã đồng ý"
CONSENT_VERSION = "v2"
AGREE, DECLINE = "✅ Đồng ý", "Không đồng ý"


# Telegram keeps messages on servers abroad (Law 91/2025 Art 20): people there are told so before agreeing.
ABROAD = {"telegram": "Tin nhắn qua Telegram được lưu trên máy chủ của Telegram ở nước ngoài.\n"}


def consent_text(commune: str, channel: str) -> str:
    return (
        "Để học, cháu cần lưu: tài khoản trò chuyện này, xóm, nhóm tuổi và các bài bác đã học.\n"
        f"Mục đích: nhớ chỗ bác học dở, xưng hô cho hợp tuổi, để {commune} đếm số người đã học ở mỗi xóm "
        "và đề nghị khen thưởng người học tốt.\n"
        f"Người quản lý dữ liệu: UBND {commune}. Cháu không bao giờ hỏi mã OTP hay mật khẩu.\n"
        f"{ABROAD.get(channel, '')}"
        "Bác xem dữ liệu bằng lệnh /dulieucuatoi, xóa bằng /xoadulieu, lúc nào cũng được.\n\n"
        "Bác có đồng ý không ạ?"
    )


def ask_consent(ctx: Context, lead: str = "", hamlet_id: int | None = None) -> None:
    """`hamlet_id`: pre-selected by a deep link; carried in the button so nothing is stored before "Đồng ý"."""
    text = consent_text(ctx.community.commune_name, ctx.channel)
    agree = f"consent:yes:{hamlet_id}" if hamlet_id is not None else "consent:yes"
    ctx.reply((lead + "\n\n" if lead else "") + text,
              [[Choice(label=AGREE, payload=agree)], [Choice(label=DECLINE, payload="consent:no")]])


@router.choice("consent", requires=Role.ANYONE)
async def consent_choice(inbound: Inbound, ctx: Context) -> None:
    _, answer, hamlet = [*inbound.payload.split(":"), "", ""][:3]
    await _consent(ctx, answer == "yes", int(hamlet) if hamlet.isdigit() else None)


async def _consent(ctx: Context, granted: bool, hamlet_id: int | None = None) -> None:
    if ctx.person is not None:
        if granted:
            show_menu(ctx, "Bác đã đồng ý từ trước rồi ạ.")
        else:
            ctx.reply("Nếu muốn rút lại đồng ý và xóa dữ liệu, bác gõ /xoadulieu nhé.")
        return
    await ctx.repos.consent.record(ref=ctx.ref, channel=ctx.channel, purpose=PURPOSE, text_version=CONSENT_VERSION,
                                   text=consent_text(ctx.community.commune_name, ctx.channel), granted=granted)
    if not granted:
        ctx.reply("Cháu hiểu ạ. Cháu không lưu thông tin gì của bác, chỉ ghi nhận là bác chưa đồng ý.\n"
                  "Khi nào bác muốn học, bác gõ /start nhé.")
        return
    person = await ctx.repos.people.create(ctx.ref, ctx.community.commune_id)
    ctx.became(person)
    hamlet = await ctx.repos.places.hamlet(hamlet_id) if hamlet_id is not None else None
    if hamlet is None or hamlet.commune_id != ctx.community.commune_id or not hamlet.active:
        await ask_hamlet(ctx)
        return
    ctx.reply(f"Cháu ghi bác ở **{hamlet.name}** ạ. Nếu sai, bác gõ /doixom để chọn lại.")
    await _set_hamlet(ctx, hamlet.id)


async def hamlet_from_link(ctx: Context, code: str) -> int | None:
    """The hamlet a deep link names (`/start xom-3`), if any."""
    if not code:
        return None
    hamlet = await ctx.repos.places.by_code(ctx.community.commune_id, code[:64])
    return hamlet.id if hamlet is not None else None


# ---- children (Law 91/2025 Art 24) ----------------------------------------------------------------
# A child's profile holds no hamlet and no age group before a parent or guardian confirms. The hamlet is asked
# first, before anyone knows the age, and saved; choosing "Dưới 16" takes it out of the profile into the
# conversation ("pending_hamlet") until the parent answers: "Bố mẹ đã đồng ý" saves it with the age group, "Để
# sau" forgets it, "Bố mẹ không đồng ý" deletes the account. Until then the person has no age group, so lessons,
# help requests and QR checks first finish onboarding (`continue_onboarding`).

PENDING = "pending_hamlet"


def settled(person: Person) -> bool:
    """The age group is known and, for a child, a parent has confirmed: the profile may hold hamlet and age."""
    return person.age_group is not None and (person.age_group != "u16" or person.guardian_confirmed)


def waiting_for_parent(ctx: Context) -> bool:
    person = ctx.person
    return person is not None and not settled(person) and (
        ctx.state.get("flow") == "guardian" or person.age_group is not None)


def place(ctx: Context, hamlet_id: int) -> None:
    """The person is in this hamlet: saved, unless they are a child waiting for a parent (then held)."""
    assert ctx.person is not None
    if waiting_for_parent(ctx):
        ctx.state[PENDING] = hamlet_id
    else:
        ctx.person.hamlet_id = hamlet_id


@router.command("doixom", requires=Role.VILLAGER, describe="Đổi xóm (thôn) của tôi")
async def change_hamlet(inbound: Inbound, ctx: Context) -> None:
    if waiting_for_parent(ctx):
        ask_guardian(ctx)
        return
    await ask_hamlet(ctx)


async def ask_hamlet(ctx: Context, page: int = 0) -> None:
    hamlets = await ctx.repos.places.hamlets(ctx.community.commune_id)
    ctx.state["flow"] = "hamlet"
    listing = "\n".join(f"{i}. {h.name}" for i, h in enumerate(hamlets, 1))
    choices = [Choice(label=h.name[:20], payload=f"hamlet:{h.id}") for h in hamlets]
    you = address(ctx)
    ctx.reply(f"{you.You} ở xóm nào ạ? Chọn tên xóm, hoặc gõ số thứ tự.\n\n{listing}",
              paged(choices, page, "hamletpage", with_menu=False), numbered=False)


@router.choice("hamletpage", requires=Role.VILLAGER)
async def hamlet_page(inbound: Inbound, ctx: Context) -> None:
    page = inbound.payload.partition(":")[2]
    await ask_hamlet(ctx, int(page) if page.isdigit() else 0)


@router.choice("hamlet", requires=Role.VILLAGER)
async def hamlet_choice(inbound: Inbound, ctx: Context) -> None:
    raw = inbound.payload.partition(":")[2]
    hamlets = await ctx.repos.places.hamlets(ctx.community.commune_id)
    chosen = next((h for h in hamlets if raw.isdigit() and h.id == int(raw)), None)
    await _set_hamlet(ctx, chosen.id if chosen else None)


@router.flow("hamlet", requires=Role.VILLAGER)
async def hamlet_typed(inbound: Inbound, ctx: Context) -> None:
    hamlets = await ctx.repos.places.hamlets(ctx.community.commune_id)
    chosen = pick_one(fold(inbound.text), hamlets) or next(
        (h for h in hamlets if matches(inbound.text, h.name)), None)
    await _set_hamlet(ctx, chosen.id if chosen else None)


async def _set_hamlet(ctx: Context, hamlet_id: int | None) -> None:
    assert ctx.person is not None
    if hamlet_id is None:
        ctx.reply("Cháu chưa tìm thấy xóm đó ạ. Mình chọn lại nhé.")
        await ask_hamlet(ctx)
        return
    place(ctx, hamlet_id)
    if not await continue_onboarding(ctx):
        show_menu(ctx, "✅ Cháu đã lưu xóm của bác.")


def ask_age(ctx: Context) -> None:
    ctx.state["flow"] = "age"
    ctx.reply("Bác thuộc nhóm tuổi nào ạ? Cháu hỏi để nói chuyện cho phải phép.",
              [[Choice(label=label, payload=f"age:{key}")] for key, label in AGE_GROUPS.items()])


@router.choice("age", requires=Role.VILLAGER)
async def age_choice(inbound: Inbound, ctx: Context) -> None:
    assert ctx.person is not None
    group = inbound.payload.partition(":")[2]
    if settled(ctx.person):  # asked once, at the start: an old button changes nothing
        show_menu(ctx, "Nút đó thuộc tin nhắn cũ rồi ạ.")
        return
    if group not in AGE_GROUPS:
        ask_age(ctx)
        return
    if group == "u16":  # nothing is kept in the profile until a parent confirms
        if ctx.person.hamlet_id is not None:
            ctx.state[PENDING], ctx.person.hamlet_id = ctx.person.hamlet_id, None
        ask_guardian(ctx)
        return
    ctx.person.age_group = group
    await _settle(ctx, f"✅ Xong rồi ạ! Từ giờ {address(ctx).you} học lúc nào cũng được, mỗi lần vài phút.")


@router.flow("age", requires=Role.VILLAGER)
async def age_typed(inbound: Inbound, ctx: Context) -> None:
    ctx.reply("Cháu chưa hiểu ý bác ạ. Bác chọn một mục bên dưới nhé.")
    ask_age(ctx)


def guardian_text(commune: str, channel: str) -> str:
    """The consent a parent or guardian reads for a child (Law 91/2025 Art 24): the learning consent, for them."""
    return (
        "Kính gửi bố mẹ (hoặc người giám hộ) của em:\n"
        "Để em học, Trợ lý số cần lưu: tài khoản trò chuyện này, xóm, nhóm tuổi và các bài em đã học.\n"
        f"Mục đích: nhớ chỗ em học dở, xưng hô cho hợp tuổi, để {commune} đếm số người đã học ở mỗi xóm "
        "và đề nghị khen thưởng người học tốt.\n"
        f"Người quản lý dữ liệu: UBND {commune}. Trợ lý số không bao giờ hỏi mã OTP hay mật khẩu.\n"
        f"{ABROAD.get(channel, '')}"
        "Xem dữ liệu bằng lệnh /dulieucuatoi, xóa bằng /xoadulieu, lúc nào cũng được.\n\n"
        "Bố mẹ có đồng ý cho em học không ạ?"
    )


def ask_guardian(ctx: Context) -> None:
    ctx.state["flow"] = "guardian"
    ctx.reply("Em dưới 16 tuổi nên cần bố mẹ hoặc người giám hộ đồng ý. Em nhờ bố mẹ đọc tin dưới đây nhé.")
    ctx.reply(guardian_text(ctx.community.commune_name, ctx.channel),
              [[Choice(label=GUARDIAN_AGREES, payload="guardian:yes")],
               [Choice(label="Bố mẹ không đồng ý", payload="guardian:no")],
               [Choice(label="Để sau", payload="guardian:later")]])


@router.choice("guardian", requires=Role.VILLAGER)
async def guardian_choice(inbound: Inbound, ctx: Context) -> None:
    assert ctx.person is not None
    answer = inbound.payload.partition(":")[2]
    if settled(ctx.person):
        show_menu(ctx, "Nút đó thuộc tin nhắn cũ rồi ạ.")
        return
    if answer == "yes":
        await ctx.repos.consent.record(ref=ctx.ref, channel=ctx.channel, purpose=GUARDIAN_PURPOSE,
                                       text_version=CONSENT_VERSION,
                                       text=guardian_text(ctx.community.commune_name, ctx.channel), granted=True)
        ctx.person.age_group, ctx.person.guardian_confirmed = "u16", True
        ctx.state["flow"] = None
        await _settle(ctx, "✅ Cảm ơn bố mẹ em. Mình bắt đầu học nhé!")
        return
    if answer == "no":  # the parent refuses: the child's account is forgotten, not counted
        await ctx.erase_person(keep_counts=False)
        ctx.reply("Dạ, mình đã xóa thông tin của em. Khi bố mẹ đồng ý, em gõ /start nhé.")
        return
    ctx.state.pop(PENDING, None)
    ctx.state["flow"] = None
    ctx.reply("Được ạ. Khi có bố mẹ ở bên, em gõ /start để tiếp tục nhé.")


@router.flow("guardian", requires=Role.VILLAGER)
async def guardian_typed(inbound: Inbound, ctx: Context) -> None:
    ask_guardian(ctx)


async def _settle(ctx: Context, done: str) -> None:
    """The age group is now saved: save the hamlet that was waiting for it, or ask for one."""
    assert ctx.person is not None
    pending = ctx.state.pop(PENDING, None)
    if ctx.person.hamlet_id is None and isinstance(pending, int):
        ctx.person.hamlet_id = pending
    if not await continue_onboarding(ctx):
        show_menu(ctx, done)


async def continue_onboarding(ctx: Context) -> bool:
    """Ask what is still missing (hamlet, age, a guardian); True when something was asked. Lessons, help requests
    and QR checks call it first, so nobody reaches them before this is done."""
    person = ctx.person
    if person is None or person.is_official:  # officials are appointed, not onboarded as learners
        return False
    if waiting_for_parent(ctx):
        ask_guardian(ctx)  # a child waiting for a parent (or kept unconfirmed by an older version)
        return True
    if person.hamlet_id is None and ctx.state.get(PENDING) is None:
        await ask_hamlet(ctx)
        return True
    if person.age_group is None:
        ask_age(ctx)
        return True
    return False


def typed_consent(inbound: Inbound) -> bool | None:
    """A person without a profile may type their answer: "đồng ý", "dong y", "1" / "không đồng ý", "2"."""
    if inbound.kind is not InboundKind.TEXT:
        return None
    if matches(inbound.text, AGREE) or fold(inbound.text) in {"1", "dongy", "co"}:
        return True
    if matches(inbound.text, DECLINE) or fold(inbound.text) in {"2", "khong"}:
        return False
    return None


async def consent_typed(inbound: Inbound, ctx: Context) -> bool:
    answer = typed_consent(inbound)
    if answer is None:
        return False
    await _consent(ctx, answer)
    return True
