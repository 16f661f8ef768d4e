"""A reading-level report per lesson: steps, words per sentence (mean and longest), minutes."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lessons.catalog import Catalog
from lessons.schema import Lesson

_SENTENCE = re.compile(r"[^.!?…\n]+[.!?…]?")
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class LessonStats:
    lesson_id: str
    steps: int
    sentences: int
    mean_words: float
    max_words: int
    minutes: int


def texts(lesson: Lesson) -> list[str]:
    found: list[str] = []
    for step in lesson.steps:
        found.append(step.text)
        if step.practice is not None:
            found.append(step.practice.prompt)
    for question in lesson.quiz.questions:
        found += [question.stem, question.explanation]
    return found


def sentence_lengths(text: str) -> list[int]:
    lengths = []
    for sentence in _SENTENCE.findall(text.replace("**", "")):
        words = len(_WORD.findall(sentence))
        if words:
            lengths.append(words)
    return lengths


def lesson_stats(lesson: Lesson) -> LessonStats:
    lengths = [n for text in texts(lesson) for n in sentence_lengths(text)]
    mean = sum(lengths) / len(lengths) if lengths else 0.0
    return LessonStats(lesson.id, len(lesson.steps), len(lengths), round(mean, 1), max(lengths, default=0),
                       lesson.minutes)


def report(catalog: Catalog) -> str:
    rows = [f"{'lesson':<24} {'steps':>5} {'sent.':>5} {'words/sent':>10} {'max':>4} {'min.':>4}"]
    for lesson in catalog.in_order():
        stats = lesson_stats(lesson)
        rows.append(f"{stats.lesson_id:<24} {stats.steps:>5} {stats.sentences:>5} {stats.mean_words:>10.1f} "
                    f"{stats.max_words:>4} {stats.minutes:>4}")
    return "\n".join(rows)
