"""Online quiz contests ("Thi trắc nghiệm"): an official opens one with questions drawn from the lessons'
quizzes and a time window; each person takes it once; the leaderboard ranks by score, then time."""

from __future__ import annotations

import datetime as dt
import random
import re

from bot.context import Context
from bot.messages import Choice, Inbound
from bot.roles import Role
from bot.routing import Router
from handlers.menu import show_menu
from handlers.timefmt import parse_when, spoken
from handlers.voice import address, menu_button
from lessons.schema import Question
from storage.models_commune import Contest

router = Router()
_WINDOW = re.compile(r"^(.+?)\s*(?:-|–|đến)\s*(.+)$")
START_SLACK = dt.timedelta(days=1)  # a start earlier today ("7:00" when it is 9:00) is still accepted


@router.command("thitracnghiem", requires=Role.OFFICIAL, describe="Mở một cuộc thi trắc nghiệm")
async def create(inbound: Inbound, ctx: Context) -> None:
    ctx.state["flow"] = "ct_title"
    ctx.reply("Tên cuộc thi? Ví dụ: Thi tìm hiểu an toàn trên mạng tháng 12", [[menu_button()]], numbered=False)


@router.flow("ct_title", requires=Role.OFFICIAL)
async def title_typed(inbound: Inbound, ctx: Context) -> None:
    title = " ".join(inbound.text.split())[:200]
    if len(title) < 3:
        ctx.reply("Anh/chị gõ tên cuộc thi giúp em ạ.", numbered=False)
        return
    ctx.state.update(flow="ct_window", ct_title=title)
    ctx.reply("Thời gian thi? Gõ lúc mở và lúc đóng, ví dụ: 1/12 7:00 - 7/12 21:00", numbered=False)


@router.flow("ct_window", requires=Role.OFFICIAL)
async def window_typed(inbound: Inbound, ctx: Context) -> None:
    assert ctx.person is not None
    match = _WINDOW.match(inbound.text.strip())
    zone = ctx.community.timezone
    starts = parse_when(match.group(1), zone, ctx.now - START_SLACK) if match else None
    ends = parse_when(match.group(2), zone, ctx.now) if match else None
    if starts is None or ends is None or ends <= starts:
        ctx.reply("Chưa hiểu thời gian. Ví dụ: 1/12 7:00 - 7/12 21:00 (lúc đóng phải sau lúc mở).", numbered=False)
        return
    pool = [[lesson.id, question.id] for lesson in ctx.catalog.in_order() for question in lesson.quiz.questions]
    questions = random.sample(pool, min(10, len(pool)))
    contest = await ctx.repos.contests.open(commune_id=ctx.community.commune_id,
                                            title=str(ctx.state.pop("ct_title")), questions=questions,
                                            starts_at=starts, ends_at=ends, created_by=ctx.person.id)
    ctx.state["flow"] = None
    ctx.reply(f"✅ Đã mở cuộc thi «{contest.title}»: {len(questions)} câu, từ {spoken(starts, zone)} "
              f"đến {spoken(ends, zone)}.\nBà con thi bằng lệnh /thi; xem bảng xếp hạng bằng /bangxephang.",
              [[menu_button()]])


def _question(ctx: Context, contest: Contest, number: int) -> Question | None:
    lesson_id, question_id = contest.questions[number]
    lesson = ctx.catalog.lesson(str(lesson_id))
    return next((q for q in lesson.quiz.questions if q.id == question_id), None) if lesson else None


@router.command("thi", requires=Role.VILLAGER, describe="Tham gia thi trắc nghiệm")
async def take(inbound: Inbound, ctx: Context) -> None:
    person = ctx.person
    assert person is not None
    you = address(ctx)
    contest = await ctx.repos.contests.running(ctx.community.commune_id, ctx.now)
    if contest is None:
        show_menu(ctx, "Hiện không có cuộc thi nào đang mở ạ.")
        return
    entry = await ctx.repos.contests.entry(contest.id, person.id)
    if entry is not None and entry.finished_at is not None:
        ctx.reply(f"{you.You} đã thi rồi: đúng {entry.score}/{len(contest.questions)} câu. Mỗi người thi một lần ạ.",
                  [[Choice(label="🏆 Bảng xếp hạng", payload="rank")], [menu_button()]])
        return
    if entry is None:
        entry = await ctx.repos.contests.enter(contest.id, person.id, ctx.now)
        ctx.reply(f"🏁 Cuộc thi «{contest.title}»: {len(contest.questions)} câu. Trả lời nhanh và đúng để lên bảng!")
    ask(ctx, contest, entry.answered)


def ask(ctx: Context, contest: Contest, number: int) -> None:
    question = _question(ctx, contest, number)
    if question is None:
        ctx.reply("Câu hỏi này không còn nữa ạ.")
        return
    ctx.state["flow"] = None
    options = "\n".join(f"{i}. {option}" for i, option in enumerate(question.options, 1))
    ctx.reply(f"Câu {number + 1}/{len(contest.questions)}: {address(ctx).adapt(question.stem)}\n\n{options}",
              [[Choice(label=option, payload=f"ct:{contest.id}:{number}:{i}")]
               for i, option in enumerate(question.options)])


@router.choice("ct", requires=Role.VILLAGER)
async def answer(inbound: Inbound, ctx: Context) -> None:
    person = ctx.person
    assert person is not None
    parts = inbound.payload.split(":")
    if len(parts) != 4 or not all(p.isdigit() for p in parts[1:]):
        show_menu(ctx, "Nút đó thuộc tin nhắn cũ rồi ạ.")
        return
    contest = await ctx.repos.contests.get(int(parts[1]))
    entry = await ctx.repos.contests.entry(int(parts[1]), person.id) if contest else None
    number, chosen = int(parts[2]), int(parts[3])
    if contest is None or entry is None or entry.finished_at is not None or entry.answered != number:
        show_menu(ctx, "Nút đó thuộc tin nhắn cũ rồi ạ.")
        return
    if ctx.now >= contest.ends_at:
        show_menu(ctx, "Cuộc thi đã đóng rồi ạ.")
        return
    question = _question(ctx, contest, number)
    entry.answered += 1
    entry.score += int(question is not None and chosen == question.answer_index)
    if entry.answered < len(contest.questions):
        ask(ctx, contest, entry.answered)
        return
    entry.finished_at = ctx.now
    entry.seconds = int((ctx.now - entry.started_at).total_seconds())
    you = address(ctx)
    ctx.reply(f"🎉 {you.You} đúng {entry.score}/{len(contest.questions)} câu, trong {entry.seconds} giây.",
              [[Choice(label="🏆 Bảng xếp hạng", payload="rank")], [menu_button()]])


@router.choice("rank", requires=Role.VILLAGER)
@router.command("bangxephang", requires=Role.VILLAGER, describe="Bảng xếp hạng thi trắc nghiệm")
async def leaderboard(inbound: Inbound, ctx: Context) -> None:
    contest = await ctx.repos.contests.latest(ctx.community.commune_id)
    if contest is None:
        show_menu(ctx, "Chưa có cuộc thi nào ạ.")
        return
    entries = await ctx.repos.contests.leaderboard(contest.id)
    lines = []
    for place, entry in enumerate(entries, 1):
        who = await ctx.repos.mentors.by_id(entry.person_id)
        hamlet = await ctx.repos.places.hamlet(who.hamlet_id) if who and who.hamlet_id else None
        mine = " (bạn)" if ctx.person is not None and entry.person_id == ctx.person.id else ""
        lines.append(f"{place}. Người dân {hamlet.name if hamlet else ''}{mine}: "
                     f"{entry.score}/{len(contest.questions)} câu, {entry.seconds} giây")
    body = "\n".join(lines) or "Chưa có ai thi xong."
    ctx.reply(f"🏆 «{contest.title}»\n{body}", [[menu_button()]])
