"""The shape of lesson data: tracks, lessons, steps, practice tasks and quizzes.

Ids are stable: saved progress refers to them, so editing a lesson's text never corrupts progress.
Ids are short so that they fit into button payloads (Telegram allows 64 bytes).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from lessons.framework import Milestone, SkillArea
from lessons.textmatch import matches

MAX_STEP_CHARS = 600

Id = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$", min_length=1, max_length=24)]
ShortId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$", min_length=1, max_length=16)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
# "2026-11": the month a lesson's facts and menu paths were last checked.
Checked = Annotated[str, StringConstraints(pattern=r"^20\d\d-(0[1-9]|1[0-2])$")]


def _an_option(answer: str, info: ValidationInfo) -> str:
    """An answer must be one of the options listed before it (quiz questions, choose drills)."""
    options = info.data.get("options")
    if options is not None and answer not in options:
        raise ValueError(f"answer {answer!r} is not among the options")
    return answer


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Track(_Strict):
    id: Id
    title: Text
    order: int = Field(ge=0)
    summary: str = ""
    button: Label | None = None  # a short name for the track's button when the title is over 20 characters


class TypedAnswer(_Strict):
    """The person types a short answer (a word shown on screen, a number they read)."""

    type: Literal["answer"]
    prompt: Text
    accept: list[Text] = Field(min_length=1)
    hint: str = ""

    def is_accepted(self, typed: str) -> bool:
        return any(matches(typed, candidate) for candidate in self.accept)


class DoneCheck(_Strict):
    """The person tries something on their own phone and says whether it worked."""

    type: Literal["done"]
    prompt: Text


class QRChallenge(_Strict):
    """The bot shows a QR code holding a fresh word; the person scans it (Zalo, camera) and types the word."""

    type: Literal["qr"]
    prompt: Text


class PracticePayment(_Strict):
    """The bot shows a VietQR for a small amount to the commune's practice account; the person scans it in
    their bank app, reads the recipient and amount, does NOT confirm, and types the amount."""

    type: Literal["payment"]
    prompt: Text
    amount: int = Field(ge=1_000, le=50_000)


class Choose(_Strict):
    """Pick the right option: a scam drill (a realistic fake message is `shown`, the person chooses what to do)
    or "which of these addresses is the real one". Each answer is explained."""

    type: Literal["choose"]
    prompt: Text
    shown: str = ""  # the message or screen being judged, shown as a quote
    options: list[Label] = Field(min_length=2, max_length=3)
    answer: Label
    explanation: Text

    _answer_is_an_option = field_validator("answer")(_an_option)


class PhotoTask(_Strict):
    """"Send me a photo": the person takes or picks a photo and sends it; it is acknowledged, not kept."""

    type: Literal["photo"]
    prompt: Text


Practice = Annotated[TypedAnswer | DoneCheck | QRChallenge | PracticePayment | Choose | PhotoTask,
                     Field(discriminator="type")]


class Step(_Strict):
    id: ShortId
    text: Annotated[Text, StringConstraints(max_length=MAX_STEP_CHARS)]
    image: str | None = None
    practice: Practice | None = None


class Question(_Strict):
    id: ShortId
    stem: Text
    options: list[Label] = Field(min_length=2, max_length=4)
    answer: Label
    explanation: Text

    _answer_is_an_option = field_validator("answer")(_an_option)

    @property
    def answer_index(self) -> int:
        return self.options.index(self.answer)


class Quiz(_Strict):
    questions: list[Question] = Field(min_length=1)
    pass_mark: int = Field(ge=1)  # validated after the questions, so it can be checked against them

    @field_validator("pass_mark")
    @classmethod
    def _reachable_pass_mark(cls, pass_mark: int, info: ValidationInfo) -> int:
        questions = info.data.get("questions")
        if questions is not None and pass_mark > len(questions):
            raise ValueError(f"pass_mark {pass_mark} is more than the {len(questions)} questions")
        return pass_mark


class Lesson(_Strict):
    id: Id
    title: Text
    summary: Text
    minutes: int = Field(ge=1, le=60)
    order: int = Field(ge=0)
    checked: Checked
    sources: list[Text] = Field(min_length=1)
    steps: list[Step] = Field(min_length=1)
    quiz: Quiz
    skill_area: SkillArea
    audience: str = ""  # who it is for, notes for mentors ("người mới dùng điện thoại; cần có ứng dụng ngân hàng")
    milestone: Milestone | None = None  # asked at the end: Rồi / Chưa / Cần giúp
    # Filled in by the catalog from the folder the file lives in.
    track: str = ""

    def step_index(self, step_id: str) -> int | None:
        for index, step in enumerate(self.steps):
            if step.id == step_id:
                return index
        return None


def checked_date(value: str) -> dt.date:
    year, month = value.split("-")
    return dt.date(int(year), int(month), 1)
