"""Training days ("buổi tập huấn"): officials create them (/taolich), people see them (/lich) and register,
everyone registered is reminded the evening before, officials see the counts."""

from __future__ import annotations

import datetime as dt

from bot.context import Context
from bot.messages import Choice, Inbound, Reply
from bot.roles import Role
from bot.routing import Router
from handlers.menu import show_menu
from handlers.numbers import pick_one
from handlers.timefmt import evening_before, parse_when, spoken
from handlers.voice import address, menu_button
from lessons.textmatch import fold

router = Router()


@router.command("taolich", requires=Role.OFFICIAL, describe="Tạo lịch buổi tập huấn")
async def create(inbound: Inbound, ctx: Context) -> None:
    ctx.state["flow"] = "tr_title"
    ctx.reply("Tên buổi tập huấn? Ví dụ: Hướng dẫn cài VNeID", [[menu_button()]], numbered=False)


@router.flow("tr_title", requires=Role.OFFICIAL)
async def title_typed(inbound: Inbound, ctx: Context) -> None:
    title = " ".join(inbound.text.split())[:200]
    if len(title) < 3:
        ctx.reply("Anh/chị gõ tên buổi tập huấn giúp em ạ.", numbered=False)
        return
    ctx.state.update(flow="tr_when", tr_title=title)
    ctx.reply("Ngày giờ? Ví dụ: 14/12 8:00", numbered=False)


@router.flow("tr_when", requires=Role.OFFICIAL)
async def when_typed(inbound: Inbound, ctx: Context) -> None:
    when = parse_when(inbound.text, ctx.community.timezone, ctx.now)
    if when is None:
        ctx.reply("Chưa hiểu ngày giờ. Gõ ngày/tháng rồi giờ:phút, ví dụ 14/12 8:00 (phải là ngày sắp tới).",
                  numbered=False)
        return
    ctx.state.update(flow="tr_place", tr_at=when.isoformat())
    ctx.reply("Địa điểm? Ví dụ: Hội trường UBND xã", numbered=False)


@router.flow("tr_place", requires=Role.OFFICIAL)
async def place_typed(inbound: Inbound, ctx: Context) -> None:
    place = " ".join(inbound.text.split())[:200]
    if len(place) < 3:
        ctx.reply("Anh/chị gõ địa điểm giúp em ạ.", numbered=False)
        return
    hamlets = await ctx.repos.places.hamlets(ctx.community.commune_id)
    ctx.state.update(flow="tr_hamlet", tr_place=place)
    listing = "\n".join(f"{n}. {h.name}" for n, h in enumerate(hamlets, 1))
    ctx.reply(f"Cho xóm nào? Gõ số, hoặc «tất cả».\n{listing}", numbered=False)


@router.flow("tr_hamlet", requires=Role.OFFICIAL)
async def hamlet_typed(inbound: Inbound, ctx: Context) -> None:
    assert ctx.person is not None
    hamlets = await ctx.repos.places.hamlets(ctx.community.commune_id)
    typed = inbound.text.strip()
    if fold(typed) == "tatca":
        hamlet = None
    elif (found := pick_one(typed, hamlets)) is not None:
        hamlet = found
    else:
        ctx.reply(f"Gõ số từ 1 đến {len(hamlets)}, hoặc «tất cả» ạ.", numbered=False)
        return
    when = dt.datetime.fromisoformat(str(ctx.state.pop("tr_at")))
    training = await ctx.repos.trainings.create(
        commune_id=ctx.community.commune_id, hamlet_id=hamlet.id if hamlet else None,
        title=str(ctx.state.pop("tr_title")), place=str(ctx.state.pop("tr_place")), at=when, created_by=ctx.person.id)
    remind_at = evening_before(when, ctx.community.timezone)
    if remind_at > ctx.now:
        ctx.schedule("training_remind", remind_at, training=training.id)
    ctx.state["flow"] = None
    who = hamlet.name if hamlet else "cả xã"
    ctx.reply(f"✅ Đã tạo lịch: «{training.title}», {spoken(when, ctx.community.timezone)}, tại {training.place} "
              f"({who}).\nBà con xem bằng /lich và bấm đăng ký. Muốn báo cho bà con, dùng /thongbao.",
              [[menu_button()]])


@router.choice("lich", requires=Role.VILLAGER)
@router.command("lich", requires=Role.VILLAGER, describe="Lịch tập huấn sắp tới")
async def calendar(inbound: Inbound, ctx: Context) -> None:
    person = ctx.person
    assert person is not None
    trainings = await ctx.repos.trainings.upcoming(ctx.community.commune_id, person.hamlet_id, ctx.now,
                                                   everyone=person.is_official)
    you = address(ctx)
    if not trainings:
        show_menu(ctx, "Hiện chưa có buổi tập huấn nào sắp tới ạ.")
        return
    counts = await ctx.repos.trainings.counts([t.id for t in trainings]) if person.is_official else {}
    lines = []
    for training in trainings:
        line = f"#{training.id} «{training.title}» – {spoken(training.at, ctx.community.timezone)}, {training.place}"
        if person.is_official:
            line += f" – {counts.get(training.id, 0)} người đã đăng ký"
        lines.append(line)
    choices = [[Choice(label=f"Đăng ký #{t.id}", payload=f"join:{t.id}")] for t in trainings[:3]]
    ctx.reply("📅 Lịch tập huấn:\n" + "\n".join(lines) + f"\n\n{you.You} bấm nút để đăng ký tham gia.",
              [*choices, [menu_button()]])


@router.choice("join", requires=Role.VILLAGER)
async def join(inbound: Inbound, ctx: Context) -> None:
    person = ctx.person
    assert person is not None
    raw = inbound.payload.partition(":")[2]
    training = await ctx.repos.trainings.get(int(raw)) if raw.isdigit() else None
    you = address(ctx)
    if training is None or training.commune_id != ctx.community.commune_id or training.at <= ctx.now:
        show_menu(ctx, "Buổi tập huấn này không còn nhận đăng ký ạ.")
        return
    new = await ctx.repos.trainings.register(training.id, person.id)
    lead = "✅ Đã đăng ký" if new else f"{you.You} đã đăng ký từ trước"
    ctx.reply(f"{lead}: «{training.title}», {spoken(training.at, ctx.community.timezone)}, tại {training.place}. "
              f"Tối hôm trước {you.me} nhắc {you.you} ạ.", [[menu_button()]])


@router.job("training_remind")
async def remind(inbound: Inbound, ctx: Context) -> None:
    training = await ctx.repos.trainings.get(int(inbound.data["training"]))
    if training is None:
        return
    when = spoken(training.at, ctx.community.timezone)
    for person in await ctx.repos.trainings.registered(training.id):
        if person.unreachable_since is None:
            ctx.notify(person.ref, Reply(text=f"⏰ Nhắc lịch: mai {when}, «{training.title}» tại {training.place}. "
                                              "Nhớ mang điện thoại đã sạc pin nhé."))
    creator = await ctx.repos.mentors.by_id(training.created_by) if training.created_by else None
    if creator is not None:
        count = len(await ctx.repos.trainings.registered(training.id))
        ctx.notify(creator.ref, Reply(text=f"📅 Mai là buổi «{training.title}»: {count} người đã đăng ký."))

