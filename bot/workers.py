"""`hocvuso run --workers N`: N processes sharing one port (SO_REUSEPORT) and one PostgreSQL database.

Only in webhook mode — Telegram allows one long-poller per bot (a second gets 409 Conflict) — and only on
PostgreSQL, whose advisory locks keep each person's updates in order and each message sent once across
processes. The web chat keeps replies in one process's memory, so it is off with several workers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from types import FrameType

from bot.settings import Settings
from storage.db import is_sqlite


def refusal(settings: Settings, count: int) -> str | None:
    if count < 1 or count > 64:
        return "--workers takes 1 to 64"
    if not settings.public_url:
        return ("--workers needs webhook mode (set HOCVUSO_PUBLIC_URL): Telegram allows one poller per bot, "
                "and a second one is refused with 409 Conflict")
    if is_sqlite(settings.database_url):
        return "--workers needs PostgreSQL (HOCVUSO_DATABASE_URL=postgresql+asyncpg://…); SQLite is one process"
    if settings.web_chat:
        return "--workers needs HOCVUSO_WEB_CHAT=false: the web chat keeps replies in one process's memory"
    return None


def broadcast_shares(per_second: float, count: int) -> list[float]:
    """The platform's announcement limit is for the bot, not for each process: each paces its share. A pacer
    counts whole messages per second, so the shares are whole and add up to the limit (30 over 4: 8, 8, 7, 7,
    not 7.5 each, which would pace 7 each); below one a second each, it is split evenly (on average only: the
    workers' seconds are not coordinated)."""
    whole = int(per_second + 1e-9)
    if whole < count:
        return [per_second / count] * count
    return [float(whole // count + (n < whole % count)) for n in range(count)]


def run(settings: Settings, count: int) -> int:
    problem = refusal(settings, count)
    if problem is not None:
        print(f"hocvuso: {problem}", file=sys.stderr)
        return 2
    env = {**os.environ, "HOCVUSO_REUSE_PORT": "true"}
    children = [subprocess.Popen([sys.executable, "-m", "bot.cli", "run"],
                                 env={**env, "HOCVUSO_WORKER": str(n), "HOCVUSO_BROADCAST_PER_SECOND": str(share)})
                for n, share in enumerate(broadcast_shares(settings.broadcast_per_second, count))]

    def forward(signum: int, frame: FrameType | None) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code = 0
    try:
        while any(child.poll() is None for child in children):
            time.sleep(0.5)
            failed = [child for child in children if child.poll() not in (None, 0)]
            if failed:  # one worker died: stop the rest, so a supervisor restarts the whole set
                code = failed[0].returncode or 1
                forward(signal.SIGTERM, None)
    finally:
        for child in children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
    return code
