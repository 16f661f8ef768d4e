"""How a help request reads to a mentor, and keeping phone numbers out of relayed messages."""

from __future__ import annotations

import re
import unicodedata

from bot.context import Context
from bot.messages import Choice, Reply
from handlers.voice import AGE_GROUPS
from storage.models import Person
from storage.models_help import Escalation

# Vietnamese mobile and landline numbers, with spaces, dots or dashes, +84 or 0 first.
_PHONE = re.compile(r"(?<!\d)(?:\(?\+?\s*84\s*\)?(?:\s*\(0\))?|\(?0)(?:[\s.\-/,_()]{0,3}\d){8,10}(?!\d)")
_INVISIBLE = dict.fromkeys(ord(ch) for ch in "\u200b\u200c\u200d\u2060\ufeff\u00ad")
HIDDEN_PHONE = "[số điện thoại đã ẩn]"
KIND_TEXT = {"question": "câu hỏi", "photo": "ảnh chụp màn hình", "visit": "nhờ gọi điện hoặc đến nhà"}


def mask_phones(text: str) -> str:
    """Phone numbers however written (spaces, dots, brackets, +84, full-width digits, hidden characters)."""
    plain = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    return unicodedata.normalize("NFC", _PHONE.sub(HIDDEN_PHONE, plain))


def helper_name(person: Person | None) -> str:
    if person is None:
        return "tình nguyện viên"
    return person.display_name or ("cán bộ xã" if person.is_official and not person.is_mentor else "tình nguyện viên")


async def describe(ctx: Context, case: Escalation) -> str:
    """The context a mentor needs, and nothing that identifies the person."""
    hamlet = await ctx.repos.places.hamlet(case.hamlet_id) if case.hamlet_id else None
    lines = [f"🙋 Yêu cầu hỗ trợ #{case.id}",
             f"Người dân ở {hamlet.name if hamlet else 'xóm chưa rõ'}, nhóm tuổi "
             f"{AGE_GROUPS.get(case.age_group or '', 'chưa rõ')}."]
    lesson = ctx.catalog.lesson(case.lesson_id) if case.lesson_id else None
    if lesson is not None:
        index = lesson.step_index(case.step_id or "")
        where = f"bước {index + 1}/{len(lesson.steps)}" if index is not None else "phần câu hỏi"
        lines.append(f"Đang học: «{lesson.title}», {where}.")
    recent = case.context.get("recent") or []
    if recent:
        lines.append("Trả lời gần đây: " + "; ".join(f"«{mask_phones(str(r))}»" for r in recent[-3:]))
    lines.append(f"Loại: {KIND_TEXT.get(case.kind, case.kind)}.")
    if case.question:
        lines.append(f"Nội dung: «{mask_phones(case.question)}»")
    if case.context.get("photo"):
        lines.append("(Có ảnh chụp màn hình: bạn xem được sau khi nhận hỗ trợ.)")
    return "\n".join(lines)


def claim_button(case: Escalation) -> list[list[Choice]]:
    return [[Choice(label="✋ Nhận hỗ trợ", payload=f"claim:{case.id}")]]


def helper_tools(case_id: int) -> list[list[Choice]]:
    return [[Choice(label="💬 Trả lời nhanh", payload=f"quick:{case_id}")],
            [Choice(label="📘 Gửi bài học", payload=f"sendlesson:{case_id}")],
            [Choice(label="📅 Hẹn gặp 1-1", payload=f"meet:{case_id}")],
            [Choice(label="✅ Xong", payload=f"done:{case_id}")]]


def labelled(sender: str, text: str, *, phone_shared: bool) -> str:
    body = text if phone_shared else mask_phones(text)
    return f"💬 {sender}:\n{body}"


async def ping(ctx: Context, case: Escalation, people: list[Person]) -> int:
    """Send the request to these helpers (never to the person who asked); how many were told."""
    text = await describe(ctx, case)
    told = 0
    for helper in people:
        if helper.id == case.person_id:
            continue
        ctx.notify(helper.ref, Reply(text=text, choices=claim_button(case)))
        told += 1
    return told
