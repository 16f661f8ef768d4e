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

from tests.harness import database_url
from tests.load.driver import run_load

FULL = os.environ.get("HOCVUSO_FULL_LOAD") == "1"
PEOPLE = int(os.environ.get("HOCVUSO_LOAD_PEOPLE", "500" if FULL else "50"))
SECONDS = float(os.environ.get("HOCVUSO_LOAD_SECONDS", "60" if FULL else "5"))

async def test_people_over_the_webhook_lose_nothing(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
                                                    ) -> None:
    result = await run_load(database_url(tmp_path / "bot.db"), tmp_path, people=PEOPLE, seconds=SECONDS)
    with capsys.disabled():  # the numbers show in a plain `make test` run too
        print(f"\n{result.summary()}", flush=True)
    result.check()
    assert result.answered > 0 and result.steps > 0
