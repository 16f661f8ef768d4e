"""Invite codes cannot be guessed by trying many: after a few wrong codes, a person waits an hour."""

from __future__ import annotations

import datetime as dt

from bot.context import Context

MAX_WRONG = 5
WAIT = dt.timedelta(hours=1)


def locked_out(ctx: Context) -> bool:
    wrong = ctx.state.get("invite_wrong") or []
    recent = [at for at in wrong if ctx.now - dt.datetime.fromisoformat(at) < WAIT]
    ctx.state["invite_wrong"] = recent
    return len(recent) >= MAX_WRONG


def record_wrong(ctx: Context) -> None:
    ctx.state["invite_wrong"] = [*list(ctx.state.get("invite_wrong") or []), ctx.now.isoformat()]


def refuse(ctx: Context) -> None:
    ctx.reply("Bạn đã nhập sai mã nhiều lần. Vui lòng thử lại sau một giờ, hoặc xin cán bộ xã mã mới.")
