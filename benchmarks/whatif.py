"""`hocvuso run` with a proposed change applied from outside the app, to measure a fix before anyone writes it.

    HOCVUSO_BENCH_WHATIF=count-sql python -m benchmarks.whatif run

Changes (comma-separated in HOCVUSO_BENCH_WHATIF; `no-rate-limiter` and `one-connection`, measured here first,
are now in the app):
- `count-sql`: a diagnosis, not a change: counts statements and transactions and the time spent in them, written as
  JSON to $HOCVUSO_BENCH_SQL_COUNTS when the process exits.

Nothing here is used by the targets: `python -m benchmarks --what-if NAME` reports these runs separately.
"""

from __future__ import annotations

import os
import sys
from typing import Any

CHANGES = ("count-sql",)


def apply(changes: list[str]) -> None:
    unknown = set(changes) - set(CHANGES)
    if unknown:
        raise SystemExit(f"unknown what-if change(s): {', '.join(sorted(unknown))}")
    if "count-sql" in changes:
        _count_sql(os.environ.get("HOCVUSO_BENCH_SQL_COUNTS", "sql-counts.json"))


def _count_sql(out: str) -> None:
    import atexit
    import collections
    import json
    import time

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    counts: collections.Counter[str] = collections.Counter()
    seconds: collections.Counter[str] = collections.Counter()

    @event.listens_for(Engine, "before_cursor_execute")
    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    @event.listens_for(Engine, "after_cursor_execute")
    def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper()
        table = ""
        words = statement.split()
        for keyword in ("FROM", "INTO", "UPDATE"):
            if keyword in words[:12] and words.index(keyword) + 1 < len(words):
                table = words[words.index(keyword) + 1]
                break
        key = f"{verb} {table}".strip()
        counts[key] += 1
        seconds[key] += time.perf_counter() - conn.info["bench_started"].pop()

    @event.listens_for(Engine, "begin")
    def begin(conn: Any) -> None:
        counts["(transaction)"] += 1

    @event.listens_for(Engine, "commit")
    def commit(conn: Any) -> None:
        counts["(commit)"] += 1

    def dump() -> None:
        with open(out, "w") as handle:
            json.dump({"counts": dict(counts), "seconds": {k: round(v, 3) for k, v in seconds.items()}}, handle,
                      indent=1)

    atexit.register(dump)


def main() -> int:
    apply([c for c in os.environ.get("HOCVUSO_BENCH_WHATIF", "").split(",") if c])
    from bot.cli import main as cli

    return cli(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
