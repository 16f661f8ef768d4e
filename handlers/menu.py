"""The main menu, reachable from everywhere."""

from __future__ import annotations

from bot.context import Context
from bot.messages import Choice
from handlers.voice import ASK_HELP, CHECK_QR, LEARN, PROGRESS, RESUME, address


def in_progress(ctx: Context) -> str | None:
    """The lesson the person is in the middle of, if it still exists."""
    lesson_id = ctx.state.get("lesson")
    return lesson_id if isinstance(lesson_id, str) and ctx.catalog.lesson(lesson_id) else None


def menu_choices(ctx: Context) -> list[list[Choice]]:
    """Four at most: learning (or carrying on), checking a QR code, progress, asking for help."""
    learning = Choice(label=RESUME, payload="resume") if in_progress(ctx) else Choice(label=LEARN, payload="learn")
    return [[learning], [Choice(label=CHECK_QR, payload="qrcheck")], [Choice(label=PROGRESS, payload="progress")],
            [Choice(label=ASK_HELP, payload="help")]]


def show_menu(ctx: Context, lead: str = "") -> None:
    you = address(ctx)
    ctx.state["flow"] = None
    text = (lead + "\n\n" if lead else "") + f"🏠 Menu chính. {you.You} muốn làm gì ạ?"
    ctx.reply(text, menu_choices(ctx))
