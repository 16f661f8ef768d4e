"""The engine's durable mail: inbox keys for dedupe, and the outbox of replies awaiting delivery."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from storage.models import InboxKey, OutboxMessage, utcnow

INBOX = cast(Table, InboxKey.__table__)
OUTBOX = cast(Table, OutboxMessage.__table__)
# Built once: a statement built per call is coerced and keyed for the compiled cache every time.
_ADD = insert(OUTBOX)
_DELIVERED = delete(OUTBOX).where(OUTBOX.c.id.in_(bindparam("ids", expanding=True)))
_CLAIM_SQLITE = insert(INBOX).prefix_with("OR IGNORE").returning(INBOX.c.key_hash)
_PENDING = (select(OUTBOX.c.id, OUTBOX.c.payload, OUTBOX.c.attempts, OUTBOX.c.next_attempt_at, OUTBOX.c.last_error)
            .where(OUTBOX.c.person_ref == bindparam("person_ref")).order_by(OUTBOX.c.id))


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def pending_for(connection: AsyncConnection, person_ref: str) -> Sequence[Row[Any]]:
    """The person's messages in order: id, payload, attempts, next_attempt_at, last_error (read-only rows), on a
    bare connection (storage.db.read_connection): delivery reads it for every reply."""
    result = await connection.execute(_PENDING, {"person_ref": person_ref})
    return result.all()


class InboxRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def claim(self, key: str) -> bool:
        """Record the key; False when it was seen before (the inbound is a duplicate)."""
        values = {"key_hash": key_hash(key), "received_at": utcnow()}
        # On the session's connection (Core): the ORM's statement machinery is most of an insert's cost.
        connection = await self._session.connection()
        if connection.dialect.name == "postgresql":
            statement = pg_insert(INBOX).values(values).on_conflict_do_nothing().returning(INBOX.c.key_hash)
            result = await connection.execute(statement)
        else:  # SQLite's INSERT OR IGNORE is a plain insert to SQLAlchemy, so it is compiled once and cached
            result = await connection.execute(_CLAIM_SQLITE, values)  # (the dialects' ON CONFLICT never is)
        return result.first() is not None

    async def purge(self, older_than: dt.datetime) -> None:
        await self._session.execute(delete(InboxKey).where(InboxKey.received_at < older_than))


class OutboxRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, person_ref: str, payload: str) -> None:
        """One message, queued after the person's earlier ones (ids increase)."""
        now = utcnow()
        connection = await self._session.connection()  # Core: no unit-of-work flush for a row nobody reads back
        await connection.execute(_ADD, {"person_ref": person_ref, "payload": payload, "created_at": now,
                                        "next_attempt_at": now, "attempts": 0})

    async def due(self, now: dt.datetime, limit: int = 100, *, broadcasts: bool | None = None
                  ) -> list[OutboxMessage]:
        query = select(OutboxMessage).where(OutboxMessage.next_attempt_at <= now)
        if broadcasts is not None:
            tagged = OutboxMessage.broadcast_id.is_not(None)
            query = query.where(tagged if broadcasts else OutboxMessage.broadcast_id.is_(None))
        rows = await self._session.scalars(query.order_by(OutboxMessage.id).limit(limit))
        return list(rows)

    async def enqueue_many(self, broadcast_id: int, messages: list[tuple[str, str]]) -> int:
        """A broadcast's messages, (person ref, payload) each, in one statement."""
        if not messages:
            return 0
        now = utcnow()
        await self._session.execute(insert(OutboxMessage), [
            {"person_ref": ref, "payload": payload, "created_at": now, "next_attempt_at": now, "attempts": 0,
             "broadcast_id": broadcast_id} for ref, payload in messages])
        return len(messages)

    async def remaining(self, broadcast_id: int) -> int:
        return int(await self._session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.broadcast_id == broadcast_id)) or 0)

    async def delivered(self, message_id: int) -> None:
        await self._session.execute(delete(OutboxMessage).where(OutboxMessage.id == message_id))

    async def delivered_many(self, message_ids: list[int]) -> None:
        connection = await self._session.connection()
        for start in range(0, len(message_ids), 500):
            await connection.execute(_DELIVERED, {"ids": message_ids[start:start + 500]})

    async def failed(self, message_id: int, error: str, retry_at: dt.datetime, *, counted: bool = True) -> None:
        """`counted=False` for "slow down" (a 429): the message was refused for now, not failed."""
        await self._session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id).values(
            attempts=OutboxMessage.attempts + (1 if counted else 0), last_error=error[:300], next_attempt_at=retry_at))
