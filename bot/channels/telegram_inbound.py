"""Telegram updates → neutral Inbounds. Photos are fetched (largest size, via getFile) within a size cap."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError

from bot.messages import Inbound, InboundKind

log = logging.getLogger(__name__)
MAX_TEXT = 4000  # as the web chat and Zalo: nobody types more; a forged megabyte is cut


def person_of(user_id: int) -> str:
    return f"telegram:{user_id}"


def key_of(update: Update) -> str:
    return f"telegram:u{update.update_id}"


async def to_inbound(update: Update, max_photo_bytes: int) -> Inbound | None:
    """None for what the bot ignores: group chats, channel posts, edits, other update kinds."""
    query = update.callback_query
    if query is not None:
        if type(query.from_user.id) is not int or not isinstance(query.data, str | None):
            return None
        if query.message is not None and getattr(query.message, "chat", None) is not None \
                and query.message.chat.type != "private":
            return None
        return Inbound(person=person_of(query.from_user.id), kind=InboundKind.CHOICE, key=key_of(update),
                       payload=(query.data or "")[:64])
    message = update.message
    if message is None or message.from_user is None or message.chat.type != "private":
        return None
    if type(message.from_user.id) is not int:
        return None
    person = person_of(message.from_user.id)
    if isinstance(message.text, str):
        return Inbound.from_text(person, message.text[:MAX_TEXT], key_of(update))
    if message.photo:
        return await _photo(update, person, max_photo_bytes)
    return Inbound(person=person, kind=InboundKind.OTHER, key=key_of(update))


async def _photo(update: Update, person: str, max_photo_bytes: int) -> Inbound:
    message = update.message
    assert message is not None
    largest = max(message.photo, key=lambda size: (size.file_size or 0, size.width * size.height))
    caption = message.caption or ""
    if largest.file_size is not None and largest.file_size > max_photo_bytes:
        return Inbound(person=person, kind=InboundKind.PHOTO, key=key_of(update), text=caption,
                       problem="photo_too_large")
    try:
        file = await largest.get_file()
        if file.file_size is not None and file.file_size > max_photo_bytes:
            raise ValueError("too large")
        data = bytes(await file.download_as_bytearray())
    except ValueError:
        return Inbound(person=person, kind=InboundKind.PHOTO, key=key_of(update), text=caption,
                       problem="photo_too_large")
    except (TelegramError, OSError) as exc:
        log.warning("could not fetch a photo: %s", type(exc).__name__)
        return Inbound(person=person, kind=InboundKind.PHOTO, key=key_of(update), text=caption,
                       problem="photo_unreadable")
    if len(data) > max_photo_bytes:
        return Inbound(person=person, kind=InboundKind.PHOTO, key=key_of(update), text=caption,
                       problem="photo_too_large")
    return Inbound(person=person, kind=InboundKind.PHOTO, key=key_of(update), text=caption, photo=data,
                   photo_ref=largest.file_id)
