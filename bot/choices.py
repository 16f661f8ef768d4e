"""What a typed number or label means: the choices of the newest message a person received.

Zalo has no buttons, and many people type "2" or the label's words rather than press one; the engine turns
such text into the choice it names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.messages import Inbound, InboundKind, Reply
from lessons.textmatch import fold


def remember_choices(state: dict[str, Any], reply: Reply) -> dict[str, Any]:
    """Typed numbers and labels refer to the choices of the newest message (none, if it has none)."""
    state["offered"] = [c.payload for c in reply.flat_choices()]
    state["labels"] = [c.label for c in reply.flat_choices()]
    state["numbered"] = reply.numbered
    return state


def as_choice(inbound: Inbound, state: Mapping[str, Any]) -> Inbound:
    """Typed text that names one of the choices last offered (its number or its label) is that choice."""
    if inbound.kind is not InboundKind.TEXT:
        return inbound
    offered: list[str] = list(state.get("offered") or [])
    labels: list[str] = list(state.get("labels") or [])
    typed = fold(inbound.text)
    if not offered or not typed:
        return inbound
    payload: str | None = None
    if state.get("numbered", True) and typed.isascii() and typed.isdigit() and 1 <= int(typed) <= len(offered):
        payload = offered[int(typed) - 1]
    else:
        for label, candidate in zip(labels, offered, strict=False):
            if fold(label) == typed:
                payload = candidate
                break
    if payload is None:
        return inbound
    return inbound.model_copy(update={"kind": InboundKind.CHOICE, "payload": payload})
