"""`python -m benchmarks.workers --quick --broadcast 20` runs 1 and 2 workers behind webhooks on PostgreSQL and
reports every figure (no timing is asserted; replies must be neither lost nor doubled). Skipped when PostgreSQL does
not answer, except in CI."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import subprocess
import sys

import pytest

from tests.conftest import PG_ADMIN

# It makes its own PostgreSQL databases; the PostgreSQL pass of the suite need not run it again.
pytestmark = pytest.mark.sqlite_only

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIGURES = ["workers", "answer_p99_ms", "webhook_p50_ms", "webhook_p99_ms", "errors", "lost_replies",
           "duplicate_replies", "unanswered_updates", "bot_cpu_share", "pg_cpu_share", "bot_cpu_ms_per_update",
           "peak_pg_connections", "loadavg_before", "startup_s", "upgrade_s", "exit_code"]
SATURATED = ["answered", "per_second", "p50_ms", "p99_ms"]
BROADCAST = ["workers", "recipients", "delivered", "sent_twice", "throttled_429", "rate_per_second",
             "max_in_any_second", "setting", "exit_code"]


def postgres_answers() -> bool:
    import asyncpg

    async def check() -> None:
        connection = await asyncpg.connect(PG_ADMIN, timeout=5)
        await connection.close()

    try:
        asyncio.run(check())
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    return True


def test_quick_workers_benchmark_reports_every_figure(tmp_path: pathlib.Path) -> None:
    if not postgres_answers() and os.environ.get("CI") != "true":
        pytest.skip("PostgreSQL not reachable on 127.0.0.1:5432")
    out = tmp_path / "workers.json"
    command = [sys.executable, "-m", "benchmarks.workers", "--quick", "--broadcast", "20", "--json", str(out),
               "--pg", PG_ADMIN]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["errors"] == {}
    assert [run["workers"] for run in results["runs"]] == [1, 2]
    for run in results["runs"]:
        missing = [key for key in FIGURES if run.get(key) is None]
        missing += [f"saturated.{key}" for key in SATURATED if run["saturated"].get(key) is None]
        assert not missing, (run["workers"], missing)
        assert run["saturated"]["answered"] == 60
        assert run["exit_code"] == 0
        # Correctness, not speed: every update answered once, every reply sent once, nothing left in the outbox.
        assert run["lost_replies"] == run["duplicate_replies"] == run["unanswered_updates"] == 0, run["audit"]
        assert run["database"]["outbox_left"] == 0
    assert [run["workers"] for run in results["broadcasts"]] == [1, 2]
    for run in results["broadcasts"]:
        missing = [key for key in BROADCAST if run.get(key) is None]
        assert not missing, (run["workers"], missing)
        assert run["recipients"] == 20
    assert "updates/s" in done.stdout and "p99 ms" in done.stdout and "broadcast, 2 worker(s)" in done.stdout
