"""Overviews this process computed lately (`StatsRepo.overview(..., max_age=…)`), and what makes them stale.

An overview is kept with the *generation* current when its computation began. Any session of this process that
commits a write which could change an overview starts a new generation, so an overview is served again only while
nothing that could change it was committed here, and only while younger than the caller's `max_age`:

- people registering, leaving, or changing hamlet, age group, official or mentor standing (a visit, which only moves
  `last_seen_at`, does not count: "active in the last 7/30 days" may lag by up to `max_age`);
- lessons completed (or un-completed, re-assigned, erased); not a step taken;
- milestone answers; help requests; the hamlets mentors serve; hamlets; the anonymous counts of deleted people;
- any INSERT, UPDATE or DELETE statement a session runs on those tables.

Not seen: writes by other processes (a second worker, `hocvuso` commands) and raw SQL text; `max_age` bounds how
long they can go unseen. The key includes the database URL, the commune, the hamlet, the tracks and the local day.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

if TYPE_CHECKING:
    from storage.stats import Overview

# Tables an overview reads, and for some the columns whose change matters (None: any change).
_READ: dict[str, frozenset[str] | None] = {
    "people": frozenset({"commune_id", "hamlet_id", "age_group", "is_official", "is_mentor", "mentor_paused",
                         "created_at"}),
    "lesson_progress": frozenset({"person_id", "lesson_id", "completed_at", "assisted"}),
    "progress_events": None,  # only milestone answers are read: see _matters
    "escalations": None,
    "mentor_hamlets": None,
    "hamlets": None,
    "anonymous_counts": None,
}
_DIRTY = "hocvuso_stats_dirty"  # Session.info key: this transaction wrote something an overview reads
_SIZE = 64


class OverviewCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._entries: OrderedDict[Hashable, tuple[int, float, Overview]] = OrderedDict()

    @property
    def generation(self) -> int:
        return self._generation

    def invalidate(self) -> None:
        """Forget every overview (a write that may change them was committed)."""
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def get(self, key: Hashable, max_age: float) -> Overview | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            generation, at, overview = found
            if generation != self._generation or time.monotonic() - at > max_age:
                return None
            return overview

    def put(self, key: Hashable, generation: int, overview: Overview) -> None:
        """Keep `overview`, computed from a read that began at `generation` (dropped if that is already over)."""
        with self._lock:
            if generation != self._generation:
                return
            self._entries[key] = (generation, time.monotonic(), overview)
            self._entries.move_to_end(key)
            while len(self._entries) > _SIZE:
                self._entries.popitem(last=False)


OVERVIEWS = OverviewCache()


def _table(instance: Any) -> str | None:
    table = getattr(instance, "__table__", None)
    return getattr(table, "name", None)


def _matters(instance: Any, how: str) -> bool:
    """Could writing `instance` ("new", "deleted" or "dirty": modified) change an overview? Reads only what is
    loaded (never emits SQL); an attribute not loaded is NULL on a new row, and may be anything on another."""
    name = _table(instance)
    if name not in _READ:
        return False
    state = inspect(instance)
    loaded = state.dict
    unknown = None if how == "new" else "?"
    if name == "progress_events":
        return bool(loaded.get("kind", "milestone") == "milestone")  # not loaded: it may be one
    if name == "lesson_progress" and how != "dirty" and loaded.get("completed_at", unknown) is None:
        return False  # a lesson started, or an unfinished one deleted
    columns = _READ[name]
    if how != "dirty" or columns is None:
        return True
    return any(state.attrs[column].history.has_changes() for column in columns)


def writes_pending(session: Session) -> bool:
    """Has this session written (flushed or not, not yet committed) something an overview reads?"""
    if session.info.get(_DIRTY):
        return True
    written = itertools.chain(((o, "new") for o in session.new), ((o, "deleted") for o in session.deleted),
                              ((o, "dirty") for o in session.dirty))
    return any(_matters(instance, how) for instance, how in written)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: UOWTransaction) -> None:
    if writes_pending(session):
        session.info[_DIRTY] = True


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> None:
    if not (state.is_insert or state.is_update or state.is_delete) or state.session.info.get(_DIRTY):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) in _READ:
        state.session.info[_DIRTY] = True


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_DIRTY, False):
        OVERVIEWS.invalidate()


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, _previous: Any) -> None:
    if not session.in_transaction():
        session.info.pop(_DIRTY, None)
