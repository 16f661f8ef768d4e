"""Announcements ("thông báo") from officials to everyone, one hamlet or one age group: write, preview with the
recipient count, confirm; delivered at the platforms' pace, resumed after a crash, progress reported.
People turn them off with /tatthongbao and on with /batthongbao."""

from __future__ import annotations

import datetime as dt

from bot.context import Context
from bot.messages import Choice, Inbound, InboundKind, Outgoing, Reply
from bot.roles import Role
from bot.routing import Router
from handlers.menu import show_menu
from handlers.numbers import pick_one
from handlers.voice import AGE_GROUPS, address, menu_button
from storage.models_commune import Broadcast

router = Router()

PROGRESS_EVERY = dt.timedelta(seconds=30)
PHOTO_DAYS = 3


def number(n: int) -> str:
    return f"{n:,}".replace(",", ".")


@router.command("thongbao", requires=Role.OFFICIAL, describe="Gửi thông báo cho bà con")
async def start(inbound: Inbound, ctx: Context) -> None:
    ctx.state["flow"] = None
    ctx.reply("📣 Gửi thông báo cho ai ạ?", [[Choice(label="Mọi người", payload="bcto:all")],
                                            [Choice(label="Một xóm", payload="bcto:hamlet")],
                                            [Choice(label="Một nhóm tuổi", payload="bcto:age")], [menu_button()]])


@router.choice("bcto", requires=Role.OFFICIAL)
async def audience(inbound: Inbound, ctx: Context) -> None:
    kind = inbound.payload.partition(":")[2]
    if kind == "hamlet":
        hamlets = await ctx.repos.places.hamlets(ctx.community.commune_id)
        ctx.state["flow"] = "bc_hamlet"
        listing = "\n".join(f"{n}. {h.name}" for n, h in enumerate(hamlets, 1))
        ctx.reply(f"Gõ số của xóm:\n{listing}", numbered=False)
        return
    if kind == "age":
        ctx.reply("Nhóm tuổi nào ạ?", [[Choice(label=label, payload=f"bcage:{key}")]
                                       for key, label in AGE_GROUPS.items()])
        return
    ask_text(ctx, "all", "mọi người")


@router.flow("bc_hamlet", requires=Role.OFFICIAL)
async def hamlet_typed(inbound: Inbound, ctx: Context) -> None:
    hamlets = await ctx.repos.places.hamlets(ctx.community.commune_id)
    hamlet = pick_one(inbound.text, hamlets)
    if hamlet is None:
        ctx.reply(f"Gõ một số từ 1 đến {len(hamlets)} ạ.", numbered=False)
        return
    ask_text(ctx, f"hamlet:{hamlet.id}", hamlet.name)


@router.choice("bcage", requires=Role.OFFICIAL)
async def age_chosen(inbound: Inbound, ctx: Context) -> None:
    group = inbound.payload.partition(":")[2]
    if group not in AGE_GROUPS:
        show_menu(ctx)
        return
    ask_text(ctx, f"age:{group}", f"nhóm tuổi {AGE_GROUPS[group]}")


def ask_text(ctx: Context, audience: str, label: str) -> None:
    ctx.state.update(flow="bc_text", bc_audience=audience, bc_label=label)
    ctx.reply(f"Gõ nội dung thông báo cho {label}. Có thể gửi kèm một ảnh (ghi nội dung vào chú thích ảnh).",
              [[menu_button()]], numbered=False)


@router.flow("bc_text", requires=Role.OFFICIAL)
async def text_typed(inbound: Inbound, ctx: Context) -> None:
    assert ctx.person is not None
    text = inbound.text.strip()[:3000]
    if not text:
        ctx.reply("Thông báo cần có chữ ạ. Gõ nội dung (hoặc ghi vào chú thích ảnh).", numbered=False)
        return
    photo = None
    if inbound.kind is InboundKind.PHOTO and inbound.photo is not None:
        photo = await ctx.repos.media.put(inbound.photo, "image/jpeg", dt.timedelta(days=PHOTO_DAYS))
    audience = str(ctx.state.pop("bc_audience", "all"))
    label = str(ctx.state.pop("bc_label", "mọi người"))
    draft = await ctx.repos.broadcasts.draft(ctx.community.commune_id, ctx.person.id, text, audience, photo)
    count = await ctx.repos.broadcasts.count(ctx.community.commune_id, audience)
    ctx.state["flow"] = None
    ctx.reply(f"Xem trước thông báo gửi {label}:\n\n📣 {text}\n\n"
              f"Sẽ gửi tới **{number(count)} người** (không tính người đã tắt thông báo). Gửi nhé?",
              [[Choice(label="✅ Gửi", payload=f"bcsend:{draft.id}")],
               [Choice(label="Hủy", payload=f"bcno:{draft.id}")]])


async def _own_draft(ctx: Context, payload: str) -> Broadcast | None:
    raw = payload.partition(":")[2]
    row = await ctx.repos.broadcasts.get(int(raw)) if raw.isdigit() else None
    if row is None or row.commune_id != ctx.community.commune_id or row.status != "draft":
        return None
    return row


@router.choice("bcno", requires=Role.OFFICIAL)
async def cancel(inbound: Inbound, ctx: Context) -> None:
    row = await _own_draft(ctx, inbound.payload)
    if row is not None:
        row.status = "cancelled"
    show_menu(ctx, "Đã hủy, không gửi gì ạ.")


@router.choice("bcsend", requires=Role.OFFICIAL)
async def send(inbound: Inbound, ctx: Context) -> None:
    row = await _own_draft(ctx, inbound.payload)
    if row is None:
        ctx.reply("Thông báo này đã gửi hoặc đã hủy rồi ạ.")
        return
    image = None
    if row.photo:
        stored = await ctx.repos.media.get(row.photo)
        image = stored.data if stored is not None else None
    message = Reply(text=f"📣 Thông báo của {ctx.community.commune_name}:\n{row.text}\n\n"
                         "(Tắt thông báo: gõ /tatthongbao)", image=image)
    total = await ctx.repos.broadcasts.send(row, Outgoing(person="", reply=message).model_dump_json(), ctx.now)
    ctx.schedule("broadcast_progress", ctx.now + PROGRESS_EVERY, broadcast=row.id)
    ctx.reply(f"📤 Đang gửi tới {number(total)} người. Cứ 30 giây cháu báo tiến độ ạ.", [[menu_button()]])


@router.job("broadcast_progress")
async def progress(inbound: Inbound, ctx: Context) -> None:
    row = await ctx.repos.broadcasts.get(int(inbound.data["broadcast"]))
    if row is None or row.status != "sending":
        return
    author = await ctx.repos.mentors.by_id(row.author_id) if row.author_id else None
    left = await ctx.repos.broadcasts.remaining(row.id)
    done = row.total - left
    if left == 0:
        row.status, row.finished_at = "done", ctx.now
        skipped = await ctx.repos.broadcasts.opted_out(row.commune_id)
        if author is not None:
            ctx.notify(author.ref, Reply(text=f"✅ Đã gửi xong thông báo tới {number(row.total)} người "
                                              f"({number(skipped)} người đã tắt thông báo nên không nhận)."))
        return
    if author is not None:
        ctx.notify(author.ref, Reply(text=f"📤 Đã gửi {number(done)}/{number(row.total)}."))
    ctx.schedule("broadcast_progress", ctx.now + PROGRESS_EVERY, broadcast=row.id)


@router.command("tatthongbao", requires=Role.VILLAGER, describe="Tắt thông báo của xã")
async def turn_off(inbound: Inbound, ctx: Context) -> None:
    assert ctx.person is not None
    ctx.person.announcements_off = True
    you = address(ctx)
    ctx.reply(f"Đã tắt thông báo của xã. Muốn nhận lại, {you.you} gõ /batthongbao nhé.", [[menu_button()]])


@router.command("batthongbao", requires=Role.VILLAGER, describe="Bật lại thông báo của xã")
async def turn_on(inbound: Inbound, ctx: Context) -> None:
    assert ctx.person is not None
    ctx.person.announcements_off = False
    ctx.reply("✅ Đã bật lại thông báo của xã.", [[menu_button()]])
