"""Learning: tracks, lessons one step per message, practice, the quiz, and "Tiến độ của tôi"."""

from __future__ import annotations

from typing import Any

from bot.context import Context
from bot.messages import Choice, Inbound
from bot.roles import Role
from bot.routing import Router
from handlers import certificate, milestone, practice
from handlers.menu import in_progress, show_menu
from handlers.onboarding import continue_onboarding
from handlers.voice import ASK_HELP, CONTINUE, REPEAT, STUCK, address, menu_button, paged
from lessons.schema import Choose, DoneCheck, Lesson, PhotoTask, TypedAnswer

router = Router()

QUIZ = "quiz"  # the step id that stands for "in the quiz"


# ---- choosing a lesson ---------------------------------------------------------------------------

@router.choice("learn", requires=Role.VILLAGER)
@router.command("hoc", requires=Role.VILLAGER, describe="Chọn bài để học")
async def learn(inbound: Inbound, ctx: Context) -> None:
    if await continue_onboarding(ctx):
        return
    page = inbound.payload.partition(":")[2]
    await show_tracks(ctx, int(page) if page.isdigit() else 0)


async def show_tracks(ctx: Context, page: int = 0) -> None:
    assert ctx.person is not None
    done = await ctx.repos.progress.completed_lessons(ctx.person.id)
    lines, choices = [], []
    for number, track in enumerate(ctx.catalog.tracks, 1):
        lessons = ctx.catalog.by_track.get(track.id, [])
        finished = sum(1 for lesson in lessons if lesson.id in done)
        mark = "✅ " if lessons and finished == len(lessons) else ""
        lines.append(f"{number}. {mark}{track.title} ({finished}/{len(lessons)} bài)")
        choices.append(Choice(label=track.button or track.title[:20], payload=f"track:{track.id}"))
    you = address(ctx)
    ctx.state["flow"] = None
    ctx.reply(f"📚 {you.You} muốn học chủ đề nào ạ?\n\n" + "\n".join(lines), paged(choices, page, "learn"))


@router.choice("track", requires=Role.VILLAGER)
async def track_choice(inbound: Inbound, ctx: Context) -> None:
    assert ctx.person is not None
    track_id, _, page = inbound.payload.partition(":")[2].partition(":")
    track = ctx.catalog.track(track_id)
    if track is None:
        await show_tracks(ctx)
        return
    done = await ctx.repos.progress.completed_lessons(ctx.person.id)
    lessons = ctx.catalog.by_track.get(track.id, [])
    lines = [f"{n}. {'✅ ' if lesson.id in done else ''}{lesson.title} (~{lesson.minutes} phút)"
             for n, lesson in enumerate(lessons, 1)]
    choices = [Choice(label=f"Bài {n}{' ✅' if lesson.id in done else ''}", payload=f"lesson:{lesson.id}")
               for n, lesson in enumerate(lessons, 1)]
    you = address(ctx)
    ctx.state["flow"] = None
    ctx.reply(f"Chủ đề **{track.title}**. {you.You} chọn bài nhé:\n\n" + "\n".join(lines),
              paged(choices, int(page) if page.isdigit() else 0, f"track:{track.id}"))


@router.choice("lesson", requires=Role.VILLAGER)
async def lesson_choice(inbound: Inbound, ctx: Context) -> None:
    if await continue_onboarding(ctx):
        return
    lesson = ctx.catalog.lesson(inbound.payload.partition(":")[2])
    if lesson is None:
        await show_tracks(ctx)
        return
    assert ctx.person is not None
    saved = await ctx.repos.progress.get(ctx.person.id, lesson.id)
    step_id = saved.step_id if saved is not None and saved.completed_at is None else None
    index = lesson.step_index(step_id) if step_id else None
    if step_id == QUIZ:
        await start_quiz(ctx, lesson)
        return
    if index is None:
        ctx.reply(f"📘 **{lesson.title}**\n{lesson.summary}\nKhoảng {lesson.minutes} phút, {len(lesson.steps)} bước.")
    await go_to_step(ctx, lesson, index or 0)


@router.choice("resume", requires=Role.VILLAGER)
@router.command("hoctiep", requires=Role.VILLAGER, describe="Học tiếp bài đang dở")
async def resume(inbound: Inbound, ctx: Context) -> None:
    if await continue_onboarding(ctx):
        return
    lesson_id = in_progress(ctx)
    if lesson_id is None:
        await show_tracks(ctx)
        return
    show_current(ctx, lesson_id)


# ---- steps ---------------------------------------------------------------------------------------

def show_current(ctx: Context, lesson_id: str) -> None:
    """Show exactly where the person is: the current step, its practice, or the current quiz question."""
    lesson = ctx.catalog.lesson(lesson_id)
    if lesson is None:
        return
    quiz = ctx.state.get("quiz")
    if ctx.state.get("step") == QUIZ and isinstance(quiz, dict):
        ask_question(ctx, lesson, int(quiz.get("q", 0)))
        return
    index = lesson.step_index(str(ctx.state.get("step"))) or 0
    show_step(ctx, lesson, index)


async def go_to_step(ctx: Context, lesson: Lesson, index: int) -> None:
    assert ctx.person is not None
    step = lesson.steps[index]
    await ctx.repos.progress.at_step(ctx.person.id, lesson.id, step.id)
    show_step(ctx, lesson, index)


def show_step(ctx: Context, lesson: Lesson, index: int) -> None:
    step = lesson.steps[index]
    you = address(ctx)
    ctx.state.update(lesson=lesson.id, step=step.id, flow=None, quiz=None)
    head = f"Bước {index + 1}/{len(lesson.steps)} · {lesson.title}"
    text = f"{head}\n\n{you.adapt(step.text)}"
    here = f"{lesson.id}:{step.id}"
    stuck = Choice(label=STUCK, payload=f"stuck:{here}")
    if isinstance(step.practice, DoneCheck):
        ctx.reply(f"{text}\n\n{you.adapt(step.practice.prompt)}", [
            [Choice(label="✅ Làm được rồi", payload=f"did:{here}:y")],
            [Choice(label="Chưa làm được", payload=f"did:{here}:n")], [stuck], [menu_button()]])
        return
    if isinstance(step.practice, Choose):
        shown = f"\n\n📩 «{you.adapt(step.practice.shown)}»" if step.practice.shown else ""
        ctx.reply(f"{text}{shown}\n\n👉 {you.adapt(step.practice.prompt)}",
                  [[Choice(label=option, payload=f"pick:{here}:{i}")] for i, option in enumerate(step.practice.options)]
                  + [[menu_button()]])
        return
    if practice.expects_typing(step):
        assert step.practice is not None and not isinstance(step.practice, DoneCheck | Choose)
        ctx.state["flow"] = "practice"
        extra = practice.note(ctx, step)
        prompt = f"{text}\n\n✍️ {you.adapt(step.practice.prompt)}" + (f"\n{you.adapt(extra)}" if extra else "")
        ctx.reply(prompt, image=practice.prepare(ctx, step), choices=[
            [Choice(label=REPEAT, payload=f"again:{here}")], [stuck],
            [Choice(label="Bỏ qua bước này", payload=f"skip:{here}")], [menu_button()]], numbered=False)
        return
    ctx.reply(text, [[Choice(label=CONTINUE, payload=f"next:{here}")],
                     [Choice(label=REPEAT, payload=f"again:{here}")], [stuck], [menu_button()]])


def remember_answer(ctx: Context, answer: str) -> None:
    """The last few answers, shown to a mentor if the person asks for help."""
    ctx.state["recent"] = [*list(ctx.state.get("recent") or []), answer[:80]][-3:]


def _current(ctx: Context, payload: str) -> tuple[Lesson, int] | None:
    """The lesson and step a button names, if it is where the person is now; else None (an old button)."""
    parts = payload.split(":")
    if len(parts) < 3:
        return None
    lesson = ctx.catalog.lesson(parts[1])
    if lesson is None or ctx.state.get("lesson") != lesson.id or ctx.state.get("step") != parts[2]:
        return None
    index = lesson.step_index(parts[2])
    return None if index is None else (lesson, index)


def stale_button(ctx: Context) -> None:
    you = address(ctx)
    lesson_id = in_progress(ctx)
    if lesson_id is None:
        show_menu(ctx, f"Nút đó thuộc tin nhắn cũ rồi ạ. {you.You} chọn lại ở menu nhé.")
        return
    ctx.reply(f"Nút đó thuộc tin nhắn cũ rồi ạ. {you.Me} đưa {you.you} về đúng chỗ đang học nhé.")
    show_current(ctx, lesson_id)


async def advance(ctx: Context, lesson: Lesson, index: int) -> None:
    if index + 1 < len(lesson.steps):
        await go_to_step(ctx, lesson, index + 1)
    else:
        await start_quiz(ctx, lesson)


@router.choice("next", "skip", "again", "did", requires=Role.VILLAGER)
async def step_button(inbound: Inbound, ctx: Context) -> None:
    """The buttons under a step. Each names its step, so one from an old message changes nothing."""
    here = _current(ctx, inbound.payload)
    if here is None:
        stale_button(ctx)
        return
    lesson, index = here
    kind = inbound.payload.split(":", 1)[0]
    if kind == "again":
        show_step(ctx, lesson, index)
    elif kind != "did":
        await advance(ctx, lesson, index)
    elif inbound.payload.endswith(":y"):
        await practised(ctx, lesson, index)
        ctx.reply(f"✅ Giỏi quá! {address(ctx).You} làm được rồi.")
        await advance(ctx, lesson, index)
    else:
        you = address(ctx)
        here_id = f"{lesson.id}:{lesson.steps[index].id}"
        ctx.reply(f"Không sao đâu ạ. {you.You} đọc lại từ từ, làm theo từng chữ một nhé.\n"
                  f"Nếu vẫn khó, {you.you} hỏi tình nguyện viên của xóm.",
                  [[Choice(label=REPEAT, payload=f"again:{here_id}")],
                   [Choice(label=CONTINUE, payload=f"next:{here_id}")],
                   [Choice(label=ASK_HELP, payload=f"stuck:{here_id}")], [menu_button()]])


async def practised(ctx: Context, lesson: Lesson, index: int) -> None:
    assert ctx.person is not None
    await ctx.repos.progress.event(ctx.person.id, "practice_done", lesson_id=lesson.id,
                                   step_id=lesson.steps[index].id)


@router.choice("pick", requires=Role.VILLAGER)
async def picked(inbound: Inbound, ctx: Context) -> None:
    """An answer to a scam drill or a "which is real" question: explained, and on to the next step if right."""
    here = _current(ctx, inbound.payload.rsplit(":", 1)[0])
    chosen = inbound.payload.rsplit(":", 1)[-1]
    step = here[0].steps[here[1]] if here else None
    if here is None or step is None or not isinstance(step.practice, Choose) or not chosen.isdigit() \
            or int(chosen) >= len(step.practice.options):
        stale_button(ctx)
        return
    lesson, index = here
    you = address(ctx)
    remember_answer(ctx, step.practice.options[int(chosen)])
    if step.practice.options[int(chosen)] == step.practice.answer:
        await practised(ctx, lesson, index)
        ctx.reply(f"✅ Đúng rồi ạ! {you.adapt(step.practice.explanation)}")
        await advance(ctx, lesson, index)
        return
    ctx.reply(f"Chưa đúng ạ. {you.adapt(step.practice.explanation)}\nMình thử chọn lại nhé.")
    show_step(ctx, lesson, index)


@router.flow("practice", requires=Role.VILLAGER)
async def practice_answer(inbound: Inbound, ctx: Context) -> None:
    lesson_id = in_progress(ctx)
    lesson = ctx.catalog.lesson(lesson_id) if lesson_id else None
    index = lesson.step_index(str(ctx.state.get("step"))) if lesson else None
    if lesson is None or index is None or not practice.expects_typing(lesson.steps[index]):
        show_menu(ctx)
        return
    step = lesson.steps[index]
    you = address(ctx)
    here = f"{lesson.id}:{lesson.steps[index].id}"
    wants_photo = isinstance(step.practice, PhotoTask)
    if not wants_photo and not inbound.text:
        ctx.reply(f"{you.You} gõ câu trả lời bằng chữ vào ô nhắn tin nhé.", numbered=False)
        return
    if inbound.text:
        remember_answer(ctx, inbound.text)
    if practice.accepted(ctx, step, inbound.text, inbound.photo):
        await practised(ctx, lesson, index)
        ctx.state.pop("qr_word", None)
        praise = f"✅ {you.Me} nhận được ảnh rồi ạ (không lưu lại)." if wants_photo else "✅ Đúng rồi ạ!"
        ctx.reply(f"{praise} {you.You} giỏi quá.")
        await advance(ctx, lesson, index)
        return
    given = step.practice.hint if isinstance(step.practice, TypedAnswer) else ""
    hint = f"\nGợi ý: {you.adapt(given)}" if given else ""
    if wants_photo:
        hint = f"\n{you.You} bấm biểu tượng ảnh 📎 hoặc máy ảnh 📷 cạnh ô nhắn tin để gửi ảnh."
    ctx.reply(f"{'Chưa thấy ảnh' if wants_photo else 'Chưa đúng rồi'} ạ, mình thử lại nhé.{hint}",
              [[Choice(label=REPEAT, payload=f"again:{here}")], [Choice(label=STUCK, payload=f"stuck:{here}")],
               [Choice(label="Bỏ qua bước này", payload=f"skip:{here}")], [menu_button()]], numbered=False)


# ---- the quiz ------------------------------------------------------------------------------------

async def start_quiz(ctx: Context, lesson: Lesson) -> None:
    assert ctx.person is not None
    await ctx.repos.progress.at_step(ctx.person.id, lesson.id, QUIZ)
    you = address(ctx)
    ctx.reply(f"📝 Xong các bước rồi ạ! Giờ là {len(lesson.quiz.questions)} câu hỏi nhỏ. "
              f"{you.You} bấm đáp án, hoặc gõ số thứ tự.")
    ctx.state.update(lesson=lesson.id, step=QUIZ, flow=None, quiz={"q": 0, "right": 0})
    ask_question(ctx, lesson, 0)


def ask_question(ctx: Context, lesson: Lesson, number: int) -> None:
    question = lesson.quiz.questions[number]
    you = address(ctx)
    rows = [[Choice(label=option, payload=f"ans:{lesson.id}:{question.id}:{i}")]
            for i, option in enumerate(question.options)]
    options = "\n".join(f"{i}. {option}" for i, option in enumerate(question.options, 1))
    tail = "" if len(rows) < 4 else "\n(Gõ «menu» để về menu chính.)"
    if len(rows) < 4:
        rows.append([menu_button()])
    ctx.state["flow"] = "quiz"
    ctx.reply(f"Câu {number + 1}/{len(lesson.quiz.questions)}: {you.adapt(question.stem)}\n\n{options}{tail}", rows)


@router.choice("ans", requires=Role.VILLAGER)
async def quiz_answer(inbound: Inbound, ctx: Context) -> None:
    parts = inbound.payload.split(":")
    lesson = ctx.catalog.lesson(parts[1]) if len(parts) == 4 else None
    quiz: Any = ctx.state.get("quiz")
    if (lesson is None or ctx.state.get("lesson") != lesson.id or ctx.state.get("step") != QUIZ
            or not isinstance(quiz, dict) or not parts[3].isdigit()):
        stale_button(ctx)
        return
    number = int(quiz.get("q", 0))
    if number >= len(lesson.quiz.questions) or lesson.quiz.questions[number].id != parts[2]:
        stale_button(ctx)
        return
    question = lesson.quiz.questions[number]
    chosen = int(parts[3])
    if chosen >= len(question.options):
        stale_button(ctx)
        return
    you = address(ctx)
    remember_answer(ctx, question.options[chosen])
    right = chosen == question.answer_index
    verdict = "✅ Đúng rồi ạ!" if right else f"Chưa đúng ạ. Đáp án đúng là: **{question.answer}**."
    ctx.reply(f"{verdict}\n{you.adapt(question.explanation)}")
    quiz = {"q": number + 1, "right": int(quiz.get("right", 0)) + int(right)}
    ctx.state["quiz"] = quiz
    if quiz["q"] < len(lesson.quiz.questions):
        ask_question(ctx, lesson, quiz["q"])
        return
    await finish_quiz(ctx, lesson, quiz["right"])


@router.flow("quiz", requires=Role.VILLAGER)
async def quiz_typed(inbound: Inbound, ctx: Context) -> None:
    lesson_id = in_progress(ctx)
    if lesson_id is None:
        show_menu(ctx)
        return
    you = address(ctx)
    ctx.reply(f"{you.Me} chưa hiểu ý {you.you} ạ. {you.You} bấm một đáp án, hoặc gõ số của đáp án nhé.")
    show_current(ctx, lesson_id)


async def finish_quiz(ctx: Context, lesson: Lesson, right: int) -> None:
    assert ctx.person is not None
    total = len(lesson.quiz.questions)
    passed = right >= lesson.quiz.pass_mark
    await ctx.repos.progress.quiz_result(ctx.person.id, lesson.id, right, passed)
    you = address(ctx)
    if passed:
        ctx.state.update(lesson=None, step=None, quiz=None, flow=None)
        following = _next_lesson(ctx, lesson)
        rows = [[Choice(label="▶ Bài tiếp theo", payload=f"lesson:{following.id}")]] if following else []
        rows.append([menu_button()])
        ctx.reply(f"🎉 {you.You} đúng {right}/{total} câu. {you.You} đã hoàn thành bài **{lesson.title}** ✅", rows)
        if lesson.milestone is not None:
            milestone.ask(ctx, lesson)
        else:
            await certificate.offer_if_track_done(ctx, lesson)
        return
    ctx.state.update(step=QUIZ, quiz={"q": 0, "right": 0}, flow=None)
    ctx.reply(f"{you.You} đúng {right}/{total} câu, cần {lesson.quiz.pass_mark} câu để xong bài. "
              f"Không sao ạ, mình thử lại nhé!",
              [[Choice(label="🔁 Làm lại câu hỏi", payload=f"retry:{lesson.id}")],
               [Choice(label="📘 Học lại bài", payload=f"restart:{lesson.id}")], [menu_button()]])


def _next_lesson(ctx: Context, lesson: Lesson) -> Lesson | None:
    ordered = ctx.catalog.in_order()
    position = next(i for i, item in enumerate(ordered) if item.id == lesson.id)
    return ordered[position + 1] if position + 1 < len(ordered) else None


@router.choice("retry", "restart", requires=Role.VILLAGER)
async def retry(inbound: Inbound, ctx: Context) -> None:
    kind, _, lesson_id = inbound.payload.partition(":")
    lesson = ctx.catalog.lesson(lesson_id)
    if lesson is None or ctx.state.get("lesson") != lesson.id or ctx.state.get("step") != QUIZ:
        stale_button(ctx)
        return
    if kind == "retry":
        await start_quiz(ctx, lesson)
    else:
        await go_to_step(ctx, lesson, 0)
