"""Exit 0 when the test PostgreSQL answers (used by `make test` to decide on the PostgreSQL run)."""

from __future__ import annotations

import asyncio
import os
import sys


async def _check() -> None:
    import asyncpg

    dsn = os.environ.get("HOCVUSO_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
    connection = await asyncpg.connect(dsn, timeout=5)
    await connection.close()


if __name__ == "__main__":
    try:
        asyncio.run(_check())
    except Exception as exc:  # any failure means "not available"
        print(f"PostgreSQL check: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
