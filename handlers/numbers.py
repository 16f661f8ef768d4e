"""Picking from a numbered list by what a person typed: "3", or "1, 3 5" for several."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def pick_one(typed: str, items: Sequence[T]) -> T | None:
    """The item numbered `typed` (1-based), or None when it is not such a number."""
    text = typed.strip()
    if text.isascii() and text.isdigit() and 1 <= int(text) <= len(items):
        return items[int(text) - 1]
    return None


def pick_many(typed: str, items: Sequence[T]) -> list[T] | None:
    """The items numbered in `typed`, separated by commas, semicolons or spaces; None unless every part is one."""
    parts = [part for part in typed.replace(";", ",").replace(" ", ",").split(",") if part.strip()]
    chosen = [pick_one(part, items) for part in parts]
    if not parts or any(item is None for item in chosen):
        return None
    return [item for item in chosen if item is not None]
