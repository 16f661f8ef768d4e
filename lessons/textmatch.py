"""Loose matching of what people type: case, diacritics, spaces and punctuation do not matter.

"co", "Có", " CÓ " all match "Có"; "dong y" matches "Đồng ý".
"""

from __future__ import annotations

import re
import unicodedata

_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def fold(text: str) -> str:
    """Lower case, no diacritics (đ → d), no spaces or punctuation."""
    decomposed = unicodedata.normalize("NFD", text.casefold()).replace("đ", "d")
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NOT_WORD.sub("", bare)


def matches(typed: str, expected: str) -> bool:
    folded = fold(typed)
    return bool(folded) and folded == fold(expected)
