"""A fresh SQLite database for a bot run: migrated, the commune and its hamlets, and people who already finished
onboarding (consented, hamlet and age group chosen), inserted directly so no warm-up has to onboard them."""

from __future__ import annotations

import os
import pathlib
import socket
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert

from storage import migrate
from storage.db import create_engine, session_factory
from storage.models import ConsentRecord, Person, utcnow
from storage.places import PlacesRepo

COMMUNE = "xã Bạch Ngọc"
HAMLETS = ["Xóm 1", "Xóm 2", "Xóm 3", "Xóm 4", "Thôn Đông"]


def url(path: pathlib.Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def prepare(path: pathlib.Path, learners: Sequence[int], officials: Sequence[int] = ()) -> None:
    """Create the database at `path` with these Telegram user ids as onboarded learners (60+) and officials."""
    remove(path)
    engine = create_engine(url(path))
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
    await seed_people(url(path), learners, officials)


async def seed_people(database_url: str, learners: Sequence[int], officials: Sequence[int] = ()) -> None:
    """Into a migrated database (SQLite or PostgreSQL): the commune, its hamlets, and these Telegram user ids as
    onboarded learners (consented, hamlet, 60+) and officials."""
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            commune = await PlacesRepo(session).ensure_commune(COMMUNE, HAMLETS)
            hamlets = [h.id for h in await PlacesRepo(session).hamlets(commune.id)]
            now = utcnow()
            rows: list[dict[str, Any]] = [
                {"ref": f"telegram:{user}", "commune_id": commune.id, "hamlet_id": hamlets[i % len(hamlets)],
                 "age_group": "60+", "state": {}, "created_at": now, "last_seen_at": now, "is_official": False,
                 "display_name": None} for i, user in enumerate(learners)]
            rows += [{"ref": f"telegram:{user}", "commune_id": commune.id, "hamlet_id": None, "age_group": "30-59",
                      "state": {}, "created_at": now, "last_seen_at": now, "is_official": True,
                      "display_name": f"Cán bộ {user}"} for user in officials]
            if rows:
                await session.execute(insert(Person), rows)
                await session.execute(insert(ConsentRecord), [
                    {"person_ref": row["ref"], "channel": "telegram", "purpose": "learning", "text_version": "v1",
                     "text_hash": "0" * 64, "granted": True, "at": now} for row in rows])
    finally:
        await engine.dispose()


def remove(path: pathlib.Path) -> None:
    """A SQLite database and its WAL files."""
    for suffix in ("", "-wal", "-shm"):
        pathlib.Path(f"{path}{suffix}").unlink(missing_ok=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bot_env(api_root: str, token: str, database: pathlib.Path, **extra: str) -> dict[str, str]:
    """The environment of `hocvuso run` against the fake: polling, no web chat, the real lessons.

    Flood control is lifted (HOCVUSO_FLOOD_LIMIT): a simulated person answers within milliseconds, far faster than
    anyone types, and would otherwise be told to slow down; the check itself still runs on every update."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("HOCVUSO_")}
    env.update({"HOCVUSO_TELEGRAM_TOKEN": token, "HOCVUSO_TELEGRAM_API_URL": api_root,
                "HOCVUSO_DATABASE_URL": url(database), "HOCVUSO_COMMUNE": COMMUNE,
                "HOCVUSO_HAMLETS": ",".join(HAMLETS), "HOCVUSO_WEB_CHAT": "false", "HOCVUSO_HOST": "127.0.0.1",
                "HOCVUSO_PORT": str(free_port()), "HOCVUSO_LOG_LEVEL": "WARNING",
                "HOCVUSO_FLOOD_LIMIT": "1000000"})
    env.update(extra)
    return env
