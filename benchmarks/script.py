"""What each simulated person sends: a real lesson, step by step, over and over.

One cycle of the default lesson (zalo-goi-video, 6 steps, 3 questions) is 10 updates: open the lesson, press
"▶ Tiếp tục" (`next:…`) four times, "✅ Làm được rồi" (`did:…:y`) once, pick the right answer of a scam drill
(`pick:…`), then type the number of the right answer to each quiz question ("1", "2"; typed text that names an
offered choice). Every update of the engine run is answered by one or more messages, the last of which carries the
buttons for the next one; the script checks that the button it is about to press was offered (`expect`).
The baseline gets exactly the same updates.
"""

from __future__ import annotations

from dataclasses import dataclass

from lessons import catalog as lesson_catalog
from lessons.schema import Choose, DoneCheck

LESSON = "zalo-goi-video"


@dataclass(frozen=True)
class Move:
    spec: tuple[str, str]  # ("data", callback data) or ("text", typed text)
    expect: str | None  # a prefix that one of the offered buttons must have; None: no check (opening the lesson)

    def update(self, user: int) -> dict[str, object]:
        kind, value = self.spec
        return {"user": user, kind: value}


def lesson_cycle(lesson_id: str = LESSON) -> list[Move]:
    lesson = lesson_catalog.load(lesson_catalog.CONTENT).lesson(lesson_id)
    if lesson is None:
        raise LookupError(f"no lesson {lesson_id!r} in the catalog")
    moves = [Move(("data", f"lesson:{lesson.id}"), None)]
    for step in lesson.steps:
        here = f"{lesson.id}:{step.id}"
        if step.practice is None:
            data = f"next:{here}"
        elif isinstance(step.practice, DoneCheck):
            data = f"did:{here}:y"
        elif isinstance(step.practice, Choose):
            data = f"pick:{here}:{step.practice.options.index(step.practice.answer)}"
        else:  # typed practice: skipped (its checks depend on what was shown)
            data = f"skip:{here}"
        moves.append(Move(("data", data), data))
    for question in lesson.quiz.questions:
        moves.append(Move(("text", str(question.answer_index + 1)), f"ans:{lesson.id}:{question.id}:"))
    return moves
