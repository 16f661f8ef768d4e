"""Cutting long texts for platforms with a message limit, at paragraph, line, sentence or word boundaries."""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` characters, cut where a reader would pause; nothing is lost but spaces."""
    if limit < 1:
        raise ValueError("limit must be positive")
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = _best_cut(rest, limit)
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not pieces:
        pieces.append(rest)
    return pieces


def _best_cut(text: str, limit: int) -> int:
    window = text[: limit + 1]
    for separator in ("\n\n", "\n"):
        at = window.rfind(separator, 0, limit)
        if at > limit // 3:
            return at + len(separator)
    sentence_ends = [m.end() for m in _SENTENCE_END.finditer(window) if m.end() <= limit]
    if sentence_ends and sentence_ends[-1] > limit // 3:
        return sentence_ends[-1]
    at = window.rfind(" ", 0, limit)
    return at + 1 if at > 0 else limit
