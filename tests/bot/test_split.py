from __future__ import annotations

import pytest

from bot.channels.split import split_text


def test_short_text_is_one_piece() -> None:
    assert split_text("Chào bác.", 2000) == ["Chào bác."]


def test_cuts_at_lines_then_sentences_then_words_and_loses_nothing() -> None:
    text = "\n".join(f"Dòng số {n}. Bác đọc chậm nhé!" for n in range(200))
    pieces = split_text(text, 2000)
    assert all(len(p) <= 2000 for p in pieces) and len(pieces) > 1
    assert all(p.endswith("nhé!") for p in pieces)  # cut at line ends
    assert "".join(pieces).replace("\n", "") == text.replace("\n", "")
    sentences = " ".join(["Câu này dài vừa phải thôi ạ."] * 200)
    assert all(p.endswith("ạ.") for p in split_text(sentences, 500))
    words = " ".join(["chữ"] * 1000)
    assert all(len(p) <= 100 and not p.startswith(" ") for p in split_text(words, 100))
    assert split_text("a" * 250, 100) == ["a" * 100, "a" * 100, "a" * 50]


def test_rejects_a_silly_limit() -> None:
    with pytest.raises(ValueError):
        split_text("x", 0)
