"""The simulated people: what each sends (the script), what they wait for, and the fake Bot API that tells them
each message the bot sends them as it arrives.

An answer is the messages one update produced. The last one carries the buttons for the next move and no other
message of an answer has buttons, so an answer is complete at the first message with buttons: it must offer the
button the script expects (`done`) and come after exactly the number of messages the script expects (`replies`).
Buttons the script presses (`press`) are taken from that message, so a missing button is an error, not a guess.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from tests.fakes.telegram_api import FakeTelegram

LESSON = "bai-thu"  # tests/data/lessons/thu/bai-thu.yaml: three steps (one typed answer, one done-check), a quiz


@dataclass(frozen=True)
class Move:
    kind: Literal["text", "data"]
    value: str  # the text typed, or the callback data (with `press`: a prefix of a button offered)
    done: str  # a prefix of a button on the answer's last message
    replies: int  # messages in the answer
    press: bool = False  # press a button offered on the last answer
    step: str | None = None  # the lesson step this move brings the person to
    finishes: bool = False  # the move ends a quiz attempt


ONBOARDING = [
    Move("text", "/start", "consent:yes", 2),  # greeting, consent text
    Move("data", "consent:yes", "hamlet:", 1, press=True),
    Move("data", "hamlet:", "age:60+", 1, press=True),  # the first hamlet offered
    Move("data", "age:60+", "learn", 1, press=True),  # the main menu
]
CYCLE = [
    # Opening the lesson: a button of an older message (the track list; "▶ Bài tiếp theo" offers the next lesson).
    Move("data", f"lesson:{LESSON}", f"next:{LESSON}:mot", 2, step="mot"),  # summary, step 1
    Move("data", f"next:{LESSON}:mot", f"skip:{LESSON}:hai", 1, press=True, step="hai"),
    Move("text", "50.000", f"did:{LESSON}:ba:y", 2, step="ba"),  # "✅ Đúng rồi", step 3
    Move("data", f"did:{LESSON}:ba:y", f"ans:{LESSON}:q1:", 3, press=True, step="quiz"),  # praise, intro, Câu 1
    Move("data", f"ans:{LESSON}:q1:1", f"ans:{LESSON}:q2:", 2, press=True),  # verdict, Câu 2
    Move("text", "2", f"ans:{LESSON}:q3:", 2),  # the right answer's number, typed
    Move("data", f"ans:{LESSON}:q3:0", "lesson:bai-hai", 2, press=True, finishes=True),  # verdict, "hoàn thành"
]


def onboards_over_the_webhook(user: int) -> bool:
    """One person in ten arrives new and onboards; the others were onboarded before the run."""
    return user % 10 == 1


class OffScript(Exception):
    pass


@dataclass
class Walker:
    """One simulated person: the update they wait on, and what the driver saw confirmed."""

    user: int
    onboarded: bool
    move: Move | None = None
    window: list[str] = field(default_factory=list)  # messages of the answer so far
    answer: asyncio.Future[tuple[list[str], float]] | None = None  # the last message's buttons, and when it came
    steps: int = 0
    finishes: int = 0
    at_step: str | None = None
    gave_up: Move | None = None  # the move outstanding when this person stopped on an error (applied or not)
    strays: list[str] = field(default_factory=list)  # messages after an answer was complete: duplicates
    surplus: int = 0  # messages beyond those expected within answers: duplicates too (or a changed script)
    late: int = 0  # messages after the person gave up

    def moves(self) -> Iterator[Move]:
        if not self.onboarded:
            yield from ONBOARDING
        yield from itertools.cycle(CYCLE)

    def expect(self, move: Move) -> asyncio.Future[tuple[list[str], float]]:
        self.move, self.window = move, []
        self.answer = asyncio.get_running_loop().create_future()
        return self.answer

    def received(self, text: str, buttons: list[str], at: float) -> None:
        move, answer = self.move, self.answer
        if move is None or answer is None or answer.done():
            if self.gave_up is not None:
                self.late += 1
            else:
                self.strays.append(text[:120])
            return
        self.window.append(text[:120])
        if not buttons:
            return
        self.move = None
        if not any(b.startswith(move.done) for b in buttons):
            answer.set_exception(OffScript(f"the answer to {move.value!r} offers {buttons}, not {move.done!r}: "
                                           f"{self.window}"))
        elif len(self.window) != move.replies:
            self.surplus += max(0, len(self.window) - move.replies)
            answer.set_exception(OffScript(f"the answer to {move.value!r} has {len(self.window)} messages, "
                                           f"expected {move.replies}: {self.window}"))
        else:
            answer.set_result((buttons, at))

    def confirmed(self, move: Move) -> None:
        if move.step is not None:
            self.steps += 1
            self.at_step = move.step
        if move.finishes:
            self.finishes += 1
        if move is ONBOARDING[-1]:
            self.onboarded = True

    def stopped(self, move: Move) -> None:
        """Stopped on an error with `move` outstanding: whatever arrives later is not a duplicate."""
        self.gave_up, self.move = move, None
        if self.answer is not None and not self.answer.done():
            self.answer.cancel()


@dataclass
class ReportingTelegram(FakeTelegram):
    """The fake Bot API; each message sent to a simulated person goes to its walker as it arrives."""

    walkers: dict[int, Walker] = field(default_factory=dict)
    to_nobody: int = 0

    def _tell(self, params: dict[str, Any]) -> None:
        at = time.monotonic()
        chat = params.get("chat_id")
        walker = self.walkers.get(chat) if isinstance(chat, int) else None
        if walker is None:
            self.to_nobody += 1
            return
        markup = params.get("reply_markup")
        rows = markup.get("inline_keyboard", []) if isinstance(markup, dict) else []
        buttons = [str(b.get("callback_data")) for row in rows for b in row if isinstance(b, dict)]
        walker.received(str(params.get("text") or params.get("caption") or ""), buttons, at)

    async def _api_sendMessage(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        result = await super()._api_sendMessage(params, files)
        self._tell(params)
        return result

    async def _api_sendPhoto(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        result = await super()._api_sendPhoto(params, files)
        self._tell(params)
        return result
