"""Consent records (append-only) and the log of data-rights requests with their due dates.

The log names nobody: a request carries only `ref_hash(ref, salt)`, an HMAC-SHA256 of the person's account under a
secret salt kept outside the database (settings: HOCVUSO_PRIVACY_SALT). The same person gets the same hash, so a
repeated request can be matched; without the salt nobody can test account ids against it, even with the database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import NamedTuple

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ConsentRecord, DataRequest, Person, utcnow

# Decree 356/2025 Art 5: deletion within 20 days, a copy within 10, withdrawal within 15.
DUE_DAYS = {"delete": 20, "copy": 10, "withdraw": 15}
LEGACY_HASH = ""  # requests logged before salting (migration 0007): they match nobody


def ref_hash(ref: str, salt: bytes) -> str:
    """The log's name for a person: HMAC-SHA256(salt, ref), hex (64 characters)."""
    return hmac.new(salt, ref.encode(), hashlib.sha256).hexdigest()


class Retention(NamedTuple):
    """How long the privacy records are kept (settings HOCVUSO_PRIVACY_LOG_DAYS, HOCVUSO_DECLINED_DAYS)."""

    requests: dt.timedelta = dt.timedelta(days=3 * 365)  # the request log: proof the commune answered in time
    declined: dt.timedelta = dt.timedelta(days=365)  # a "Không đồng ý" from someone who never joined


DEFAULT_RETENTION = Retention()


class ConsentRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, *, ref: str, channel: str, purpose: str, text_version: str, text: str,
                     granted: bool) -> ConsentRecord:
        row = ConsentRecord(person_ref=ref, channel=channel, purpose=purpose, text_version=text_version,
                            text_hash=hashlib.sha256(text.encode()).hexdigest(), granted=granted,
                            at=utcnow())
        self._session.add(row)
        await self._session.flush()
        return row

    async def latest(self, ref: str, purpose: str) -> ConsentRecord | None:
        return (await self._session.scalars(
            select(ConsentRecord)
            .where(ConsentRecord.person_ref == ref, ConsentRecord.purpose == purpose)
            .order_by(ConsentRecord.id.desc())
            .limit(1))).first()

    async def history(self, ref: str) -> list[ConsentRecord]:
        rows = await self._session.scalars(
            select(ConsentRecord).where(ConsentRecord.person_ref == ref).order_by(ConsentRecord.id))
        return list(rows)


class DataRequestsRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def log(self, key: str, kind: str, *, done: bool, now: dt.datetime | None = None) -> DataRequest:
        """Log a request of the person whose `ref_hash` is `key`."""
        at = now or utcnow()
        row = DataRequest(ref_hash=key, kind=kind, requested_at=at,
                          due_at=at + dt.timedelta(days=DUE_DAYS[kind]), done_at=at if done else None)
        self._session.add(row)
        await self._session.flush()
        return row

    async def of(self, key: str) -> list[DataRequest]:
        """The requests of one person (by their `ref_hash`), oldest first."""
        return list(await self._session.scalars(
            select(DataRequest).where(DataRequest.ref_hash == key).order_by(DataRequest.requested_at,
                                                                             DataRequest.id)))

    async def purge(self, now: dt.datetime, retention: Retention = DEFAULT_RETENTION) -> int:
        """Retention, run by the hourly housekeeping: requests logged longer ago than `retention.requests`, and the
        "Không đồng ý" rows of people who never joined (no profile) older than `retention.declined`. Refusals of
        people with a profile stay with it (its latest answer per purpose is what counts) until it is deleted."""
        requests = await self._session.execute(
            delete(DataRequest).where(DataRequest.requested_at < now - retention.requests))
        declined = await self._session.execute(
            delete(ConsentRecord).where(ConsentRecord.granted.is_(False),
                                        ConsentRecord.at < now - retention.declined,
                                        ConsentRecord.person_ref.not_in(select(Person.ref))))
        return int(getattr(requests, "rowcount", 0)) + int(getattr(declined, "rowcount", 0))
