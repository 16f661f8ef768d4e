"""Neutral messages: what handlers receive (Inbound) and what they say (Reply, effects).

No platform object ever reaches a handler: adapters translate to and from these.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import re
import unicodedata
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, PlainValidator, field_validator

from lessons.textmatch import nfc

MAX_PAYLOAD_BYTES = 64  # Telegram's callback_data limit; every channel keeps to it.


class InboundKind(enum.StrEnum):
    TEXT = "text"
    CHOICE = "choice"
    PHOTO = "photo"
    COMMAND = "command"
    OTHER = "other"  # a sticker, a voice note, a file: something the bot cannot read
    JOB = "job"  # a durable timer firing (command = its kind, data = its payload)


def _b64_decode(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return base64.b64decode(value)
    raise ValueError("expected bytes or base64 text")


Base64Bytes = Annotated[bytes, PlainValidator(_b64_decode), PlainSerializer(lambda b: base64.b64encode(b).decode())]


_LONG_NUMBER = re.compile(r"[0-9]{10,}")


def _ascii_digits(text: str) -> str:
    """Digits people type in other scripts become 0–9; digit-like signs that are no number (², ①) go."""
    if text.isascii():
        return text
    out = []
    for ch in text:
        if ch.isdigit() and not ch.isascii():
            value = unicodedata.decimal(ch, None)
            out.append(str(value) if value is not None else "")
        else:
            out.append(ch)
    return "".join(out)


class Inbound(BaseModel):
    model_config = ConfigDict(frozen=True)

    person: str  # "web:…", "telegram:123", "zalo:ab12"
    kind: InboundKind
    key: str  # idempotency key: the same platform update always carries the same key
    text: str = ""
    payload: str = ""  # the pressed choice
    command: str = ""  # without the slash, lower case
    args: str = ""  # the rest of a command line ("/start xom-3" → "xom-3")
    photo: Base64Bytes | None = None
    photo_ref: str | None = None
    received_at: dt.datetime = Field(default_factory=lambda: dt.datetime.now(dt.UTC))
    name_hint: str = ""  # what the platform calls the person; never stored
    problem: str = ""  # set by an adapter that could not take something: "photo_too_large", "photo_unreadable"
    data: dict[str, Any] = Field(default_factory=dict)  # a job's payload

    @field_validator("text", "args")
    @classmethod
    def _plain_digits(cls, value: str) -> str:
        return _ascii_digits(value)

    @field_validator("payload", "args")
    @classmethod
    def _no_huge_numbers(cls, value: str) -> str:
        """Ids in buttons and commands are small numbers; a forged 20-digit one must not reach the database."""
        return _LONG_NUMBER.sub("0", value)

    @field_validator("payload")
    @classmethod
    def _printable_ascii(cls, value: str) -> str:
        return value if value.isascii() and value.isprintable() else ""

    @property
    def channel(self) -> str:
        return self.person.split(":", 1)[0]

    @classmethod
    def from_text(cls, person: str, text: str, key: str, **extra: Any) -> Inbound:
        """Text as typed: "/start abc" becomes a command, anything else stays text (NFC)."""
        text = nfc(text).strip()
        if text.startswith("/") and len(text) > 1:
            head, _, rest = text[1:].partition(" ")
            name = head.split("@", 1)[0].lower()
            if name.isascii() and name.replace("_", "").isalnum():
                return cls(person=person, kind=InboundKind.COMMAND, key=key, text=text, command=name,
                           args=rest.strip(), **extra)
        return cls(person=person, kind=InboundKind.TEXT, key=key, text=text, **extra)


class Choice(BaseModel):
    model_config = ConfigDict(frozen=True)

    label: str
    payload: str


class Reply(BaseModel):
    """One message: text (with **bold** marks), rows of choices, an optional image."""

    model_config = ConfigDict(frozen=True)

    text: str
    choices: list[list[Choice]] = Field(default_factory=list)
    image: Base64Bytes | None = None
    image_caption: str = ""
    document: Base64Bytes | None = None  # a file to keep or print (a certificate PDF, a poster)
    document_name: str = ""
    # False when the person is expected to type an answer, so typed digits are not read as choice numbers.
    numbered: bool = True

    def flat_choices(self) -> list[Choice]:
        return [choice for row in self.choices for choice in row]


class SendReply(BaseModel):
    """Effect: a message to the person who wrote."""

    reply: Reply


class NotifyPerson(BaseModel):
    """Effect: a message to someone else (a mentor ping, an official's notice)."""

    person: str
    reply: Reply


class ScheduleJob(BaseModel):
    """Effect: run the job handler `kind` at `run_at` (UTC) with `payload` — durable, once."""

    kind: str
    run_at: dt.datetime
    payload: dict[str, Any] = Field(default_factory=dict)


class RefreshCommands(BaseModel):
    """Effect: the person's roles changed; channels with per-person command menus update theirs."""

    person: str


class AfterCommit(BaseModel):
    """Effect: read-only work run once the inbound has committed, outside its write transaction, so that a report
    reading for a second does not hold every other writer of the process. `work` gets a Context on a read session
    (bot.after_commit); what it replies and notifies is queued in a short transaction of its own and delivered.
    Not durable: if the process stops before that, the person asks again."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    work: Callable[[Any], Awaitable[None]]


Effect = SendReply | NotifyPerson | ScheduleJob | RefreshCommands | AfterCommit


class Outgoing(BaseModel):
    """What the outbox stores and a channel delivers."""

    person: str
    reply: Reply
