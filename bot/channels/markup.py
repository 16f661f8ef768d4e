"""Our small text markup (**bold**) rendered per channel: safe HTML, or plain text."""

from __future__ import annotations

import html
import re

_BOLD = re.compile(r"\*\*(.+?)\*\*", re.S)


def to_html(text: str) -> str:
    """Escaped HTML with <b> for **bold** (Telegram's HTML parse mode accepts the same)."""
    return _BOLD.sub(r"<b>\1</b>", html.escape(text, quote=False))


def to_plain(text: str) -> str:
    return _BOLD.sub(r"\1", text)
