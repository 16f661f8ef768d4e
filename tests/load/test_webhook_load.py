"""A load test, not a timed unit test: simulated people over the Telegram webhook on loopback (tests/load/driver.py).

By default a short form runs with the suite (50 people for 5 s); `HOCVUSO_FULL_LOAD=1` runs the full one (500
people for 60 s); `HOCVUSO_LOAD_PEOPLE` and `HOCVUSO_LOAD_SECONDS` set other sizes. It runs in both passes of the
suite: on a SQLite file, and on the test's own PostgreSQL database.

Only correctness is asserted (no HTTP error, every update answered once and in script, no step lost or doubled,
nothing logged as an error); throughput and p50/p99 latency are printed, also in a plain `make test` run.
"""

from __future__ import annotations

import os
import pathlib

import pytest

from tests.conftest import ON_POSTGRES
from tests.harness import database_url
from tests.load.driver import run_load
from tests.load.result import Stalled

FULL = os.environ.get("HOCVUSO_FULL_LOAD") == "1"
PEOPLE = int(os.environ.get("HOCVUSO_LOAD_PEOPLE", "500" if FULL else "50"))
SECONDS = float(os.environ.get("HOCVUSO_LOAD_SECONDS", "60" if FULL else "5"))

# Defect (found by this test): on PostgreSQL the bot stalls once about as many people are served at once as its
# connection pool holds (storage/db.py `create_engine`: pool_size + max_overflow; 40 at 7cca82e). Each delivery holds
# one pooled connection for its advisory lock (storage/locking.py `delivering`) while `Engine._deliver_to`
# (bot/engine.py) takes a second from the same pool to read and delete the person's outbox rows; when every
# connection is held by a delivery waiting for another, nothing moves until the pool's 60 s timeout fails them all
# ("QueuePool limit … reached"). Remove this mark when that is fixed (strict: it then fails as XPASS).
POOL_DEADLOCK = pytest.mark.xfail(ON_POSTGRES, raises=Stalled, strict=True,
                                  reason="PostgreSQL: the connection pool deadlocks under load (`delivering` holds "
                                         "a pooled connection while `_deliver_to` waits for a second one)")


@POOL_DEADLOCK
async def test_people_over_the_webhook_lose_nothing(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
                                                    ) -> None:
    result = await run_load(database_url(tmp_path / "bot.db"), tmp_path, people=PEOPLE, seconds=SECONDS)
    with capsys.disabled():  # the numbers show in a plain `make test` run too
        print(f"\n{result.summary()}", flush=True)
    result.check()
    assert result.answered > 0 and result.steps > 0
